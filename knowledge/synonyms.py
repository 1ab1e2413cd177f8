"""Words visitors use interchangeably in customer support, in groups.

A visitor's word also matches the other words of its group (at a slightly lower weight), the
way a help-centre search expands "parcel" to "package". Single words only, general support and
shop vocabulary; an account adds its own words to an entry's tags.
"""

GROUPS = """
    package parcel shipment
    courier carrier
    deliver delivery delivered ship shipping shipped dispatch arrive arrival
    cost costs price prices pricing fee fees expensive cheap
    refund refunds reimbursement reimburse
    return returns returning returnable
    cancel cancellation cancelled unsubscribe stop
    subscription membership member members plan subscribe
    receipt invoice bill
    discount coupon promo voucher
    buy purchase purchased
    order orders ordered
    phone mobile smartphone iphone android
    app application
    email mail emails
    contact reach call phone talk speak
    help support assistance
    hours open opening
    store shop showroom boutique
    item items product products article goods
    damaged broken defective faulty cracked
    wrong incorrect
    missing lost
    size sizes sizing fit
    wash washing laundry dryer clean
    fabric material materials
    made manufactured produced manufacturing factory factories
    recyclable recycled sustainable eco environment environmental plastic
    restock restocked stock available
    gift present
    wrap wrapping wrapped
    points rewards reward loyalty
    sale sales deal deals promotion
    tax taxes vat
    customs duties duty import
    charged billed payments payment
    card cards
    update change modify edit
    wishlist favorites favourites
    cart basket
    review reviews rating feedback rate
    currency currencies euro euros pounds dollars
    repair fix
    connect pair pairing
    battery batteries
    waterproof water swim swimming rain splash
    reset restart reboot
    firmware software version
    spare replacement
    jewelry jewellery
    engrave engraving personalize personalise customize custom
    job jobs career careers hiring vacancy vacancies
    affiliate affiliates commission influencer partnership
    charity donate donation donations
    pickup collect pick
    language languages translate translation
    accessibility accessible
    headphones headphone earbuds earbud earphones headset
    notifications notification alerts alert push
    password passcode
    account profile
    sign register registration signup
    country countries international internationally abroad overseas worldwide
    warranty guarantee
    installments instalments
    quick fast faster express expedited
"""


def _build() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for line in GROUPS.strip().splitlines():
        group = set(line.split())
        for word in group:
            table.setdefault(word, set()).update(group)
    return {word: frozenset(group) for word, group in table.items()}


SYNONYMS = _build()


def synonyms(word: str) -> frozenset[str]:
    """The word and the words used for the same thing (the word alone when it has none)."""
    return SYNONYMS.get(word, frozenset((word,)))
