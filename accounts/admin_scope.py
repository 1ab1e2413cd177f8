"""The admin, separated by account.

A superuser sees and changes every account's rows. Any other staff login (an account itself, or
one of its people: `User.account`) sees and changes only its own account's rows, on every page:
lists, searches, autocompletes, list filters, inlines, actions, object URLs (another account's
object is missing, and Django answers as it does for one that does not exist), and the choices of
every form (foreign keys, raw ids; the account field is fixed to its own account).

Every app's admin starts from `AccountScopedAdmin` (inlines from `AccountScopedTabularInline`)
and names the way from its model to the account in `account_path`; a model that belongs to no
account (groups) is `SuperuserOnlyAdmin`. tests/test_admin_tenancy.py walks every registered
model admin and fails for one that is neither, so a new page cannot forget its account.

Writes keep going through each app's own `save_model` (and so its services): this module only
decides what a login may see and choose.
"""

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.widgets import ForeignKeyRawIdWidget, ManyToManyRawIdWidget
from django.contrib.auth import get_user_model
from django.core.exceptions import (
    FieldDoesNotExist,
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.db.models import Q
from django.forms import ModelChoiceField


def admin_account_id(request) -> int | None:
    """The account whose rows this admin request may see and change; None for a superuser
    (every account's)."""
    user = request.user
    if not user.is_authenticated:  # the admin's own views let only staff in; never guess
        raise PermissionDenied
    if user.is_superuser:
        return None
    return user.own_account_id


def account_filter(model, account_id: int, admin_site=admin.site) -> Q:
    """The rows of `model` that belong to account `account_id`, as a filter.

    The model's registered admin knows the way (`account_path`); an unregistered model with an
    `account` field uses it. Anything else is a programming error, raised at once rather than
    shown unfiltered.
    """
    model_admin = admin_site._registry.get(model)
    if isinstance(model_admin, AccountScoped):
        return model_admin.account_filter(account_id)
    if model is get_user_model():
        return Q(pk=account_id)
    try:
        model._meta.get_field("account")
    except FieldDoesNotExist:
        raise ImproperlyConfigured(
            f"{model.__name__} has no account: give its admin an account_path."
        ) from None
    return Q(account=account_id)


class AccountRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id box that names the chosen object only if it is one of the field's choices (the
    stock widget looks any id up, and so would print another account's object)."""

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.choices_queryset = choices

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            allowed = self.choices_queryset.filter(**{key: value}).exists()
        except (ValueError, TypeError, ValidationError):
            allowed = False
        return super().label_and_url_for_value(value) if allowed else ("", "")


class AccountScoped:
    """The account scoping of a model admin or an inline (see the module's docstring)."""

    # The lookup from the model to its account (a User), e.g. "account" or "webhook__account".
    account_path = "account"

    def account_filter(self, account_id: int) -> Q:
        return Q(**{self.account_path: account_id})

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        account_id = admin_account_id(request)
        if account_id is None:
            return queryset
        return queryset.filter(self.account_filter(account_id))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        account_id = admin_account_id(request)
        related = db_field.related_model
        if related is get_user_model():
            # A foreign key to a user is the row's account: an account, never one of its people.
            formfield.queryset = formfield.queryset.filter(account__isnull=True)
            if account_id is not None:
                # Fixed to the login's own account: a disabled field takes its initial value,
                # whatever is posted (and that value must still be one of the choices).
                formfield.queryset = formfield.queryset.filter(pk=account_id)
                formfield.initial = account_id
                formfield.disabled = True
        elif account_id is not None:
            formfield.queryset = formfield.queryset.filter(
                account_filter(related, account_id, self.admin_site)
            )
        if type(formfield.widget) is ForeignKeyRawIdWidget:
            formfield.widget = AccountRawIdWidget(
                db_field.remote_field,
                self.admin_site,
                using=kwargs.get("using"),
                choices=formfield.queryset,
            )
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        account_id = admin_account_id(request)
        if formfield is not None and account_id is not None:
            formfield.queryset = formfield.queryset.filter(
                account_filter(db_field.related_model, account_id, self.admin_site)
            )
            if isinstance(formfield.widget, ManyToManyRawIdWidget):
                raise ImproperlyConfigured("Raw ids of many-to-many fields are not scoped.")
        return formfield

    def get_list_filter(self, request):
        list_filter = super().get_list_filter(request)
        if admin_account_id(request) is None:
            return list_filter
        # The stock filter of a relation offers every row of the related table; this one offers
        # only those the login's rows point to.
        return [self._account_list_filter(item) for item in list_filter]

    def _account_list_filter(self, item):
        if isinstance(item, str):
            if get_fields_from_path(self.model, item)[-1].is_relation:
                return (item, admin.RelatedOnlyFieldListFilter)
        elif isinstance(item, tuple | list) and item[1] is admin.RelatedFieldListFilter:
            return (item[0], admin.RelatedOnlyFieldListFilter)
        return item

    def save_form(self, request, form, change):
        instance = super().save_form(request, form, change)
        account_id = admin_account_id(request)
        # Belt and braces over the fixed field: a row saved by a login of an account is that
        # account's (a row whose account is derived, such as a message's, has none yet here).
        if account_id is not None and "__" not in self.account_path:
            field = self.model._meta.get_field(self.account_path)
            current = getattr(instance, field.attname)
            if current is not None and current != account_id:
                raise PermissionDenied
        return instance


def _formset_scoped(formset, condition: Q):
    """`formset` whose hidden id fields accept only the account's rows (Django checks them
    against the whole table)."""

    class AccountFormSet(formset):
        def add_fields(self, form, index):
            super().add_fields(form, index)
            id_field = form.fields.get(self._pk_field.name)
            if isinstance(id_field, ModelChoiceField):
                id_field.queryset = id_field.queryset.filter(condition)

    AccountFormSet.__name__ = formset.__name__
    return AccountFormSet


class AccountScopedAdmin(AccountScoped, admin.ModelAdmin):
    """The base of every app's model admin."""

    def get_changelist_formset(self, request, **kwargs):
        formset = super().get_changelist_formset(request, **kwargs)
        account_id = admin_account_id(request)
        if account_id is None:
            return formset
        return _formset_scoped(formset, self.account_filter(account_id))


class AccountScopedTabularInline(AccountScoped, admin.TabularInline):
    """The base of every inline."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        account_id = admin_account_id(request)
        if account_id is None:
            return formset
        return _formset_scoped(formset, self.account_filter(account_id))


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """For models that belong to no account (groups, task results): only superusers see or
    change them (and only as far as the admin it is mixed into lets them)."""

    def has_module_permission(self, request):
        return request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args, **kwargs):
        return request.user.is_superuser and super().has_add_permission(request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


# Models of other apps registered in the admin that belong to no account: groups are shared by
# every account (a login of an account gives its people the groups it is in itself), and task
# results carry any account's arguments. Add a new one here when tests/test_admin_tenancy.py
# names it.
SUPERUSER_ONLY_MODELS = [
    "auth.Group",
    "django_tasks_database.DBTaskResult",
    # Failed admin logins (django-axes: accounts/login_limits.py): addresses and usernames of
    # every account.
    "axes.AccessAttempt",
    "axes.AccessFailureLog",
    "axes.AccessLog",
]


def superuser_only_register(site=admin.site) -> None:
    """Make the admins of SUPERUSER_ONLY_MODELS superuser-only (from AccountsConfig.ready(),
    once every app's admin module has registered its models)."""
    from django.apps import apps

    for name in SUPERUSER_ONLY_MODELS:
        model = apps.get_model(name)
        model_admin = site._registry.get(model)
        if model_admin is None or isinstance(model_admin, SuperuserOnlyAdmin):
            continue
        base = type(model_admin)
        site.unregister(model)
        site.register(model, type(f"SuperuserOnly{base.__name__}", (SuperuserOnlyAdmin, base), {}))
