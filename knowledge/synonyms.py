"""Words visitors use interchangeably in customer support, in groups.

A visitor's word also matches the other words of its group (at a slightly lower weight), the
way a help-centre search expands "parcel" to "package". General support and shop vocabulary,
with a few broad categories (a necklace is jewelry, trainers are shoes); an account adds its own
words to an entry's tags.
`PHRASES` reads a few multi-word expressions as one word ("send it back" is "return").
"""

import re

GROUPS = """
    package parcel shipment
    courier carrier
    deliver delivery delivered ship shipping shipped dispatch arrive arrival
    cost costs price prices pricing fee fees expensive cheap cheaper cheapest
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
    damaged broken defective faulty cracked scratched dented torn ripped
    wrong incorrect
    missing lost stolen
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
    wishlist wish favorites favourites saved
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
    safe safety secure security protected
    swap exchange exchanges
    information data details personal privacy
    newsletter newsletters marketing promotional offers
    preorder release released launch upcoming
    minimum amount spend total
    employees staff team
    giftcard voucher vouchers
    charity giving
    policy policies rules terms conditions
    guest anonymous
    track tracking locate
    delay delayed late
    quality durable
    colour colours color colors
    login log signin
    forgot forgotten
    delete remove close erase
    complaint complain unhappy dissatisfied
    wait waiting
    noise noisy loud
    music audio sound songs
    clothes clothing apparel garment garments outfit
    shoes footwear sneakers trainers
    necklace necklaces ring rings bracelet bracelets earrings jewelry jewellery
    speaker speakers
    computer laptop pc
    uk britain british england
    usa america american
    europe european eu
    problem issue trouble
    error bug glitch crash
    website site web online
    free complimentary
    student students university college
    bulk wholesale corporate
    availability available inventory
    debit credit
    expire expired expiry expiration
    declined rejected denied failed
    postcode zip postal
    instructions manual guide
    compare comparison difference
    upgrade upgrading
    pause freeze suspend skip
    renew renewal renews
    monthly yearly annual annually
    extra additional surcharge hidden
"""


# Multi-word expressions of everyday support English, read as the one word they mean (their own
# words are mostly stop words or mean something else alone: "send it back" is a return, not a
# shipment). Applied to the visitor's text and to the entries alike.
PHRASES = [
    (r"\bhow (many|much) (minutes|hours|days|weeks|months|years|time)\b", "long"),
    (r"\bhow soon\b", "long"),
    (r"\bhow much\b", "cost"),
    (
        r"\b(send|sent|sending|ship|shipping|mail|mailing|post|posting)( [\w']+){0,2} back\b",
        "return",
    ),
    (r"\bmoney back\b", "refund"),
    (r"\bgive back\b", "charity"),
    (r"\bsign(ed|ing)? up\b", "register"),
    (r"\b(sign|log)(ged|ging)? (in|on)(to)?\b", "login"),
    (r"\bpick(ed|ing)? (it |them )?up\b", "pickup"),
    (r"\bcheck(ed|ing)? ?out\b", "checkout"),
    (r"\bwish ?list\b", "wishlist"),
    (r"\bgift ?cards?\b", "giftcard"),
    (r"\bpay later\b", "installments"),
    (r"\bon hold\b", "pause"),
    (r"\bopt(ed|ing)? out\b", "unsubscribe"),
    (r"\btoo (small|big|large|tight|loose|short|long)\b", "size"),
    (r"\bwhere('s| is| are) my\b", "track"),
    (
        r"\b(didn't|did not|never|hasn't|has not|haven't|have not|not)"
        r" (come|came|arrive|arrived|show up|shown up|turn up|turned up)\b",
        "missing",
    ),
    (r"\bset(ting)? up\b", "setup"),
]
_PHRASES = [(re.compile(pattern), f" {word} ") for pattern, word in PHRASES]


def phrases(text: str) -> str:
    """The text (casefolded) with each known expression replaced by the word it means."""
    text = text.casefold().replace("\u2019", "'")
    for pattern, word in _PHRASES:
        text = pattern.sub(word, text)
    return text


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
