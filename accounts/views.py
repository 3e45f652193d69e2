"""The home redirect, the about page, the account page, contact editing and moving accounts to another TAM."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from journeys import plan_selectors
from journeys.selectors import account_segment, journey_milestones, target_days

from . import selectors, services
from .forms import BookSearchForm, ContactForm, ReassignForm
from .models import Account, Contact


@login_required
def home(request):
    return redirect("retention:overview")


def about(request):
    return render(request, "about.html")


def _account_for(request, pk: int, permission: str | None = None) -> Account:
    """Return the account if the user may read it, or has `permission` on it as its owning TAM; 403 otherwise."""
    account = get_object_or_404(Account.objects.select_related("tam", "parent", "ultimate_parent"), pk=pk)
    if permission is None:
        allowed = selectors.can_read_account(request.user, account)
    else:
        allowed = selectors.can_change_account(request.user, account, permission)
    if not allowed:
        raise PermissionDenied
    return account


def _contact_for(request, account_pk: int, pk: int) -> Contact:
    account = _account_for(request, account_pk, "accounts.change_contact")
    return get_object_or_404(Contact.objects.select_related("account"), pk=pk, account=account)


@require_safe
@login_required
def account_detail(request, pk: int):
    account = _account_for(request, pk)
    user = request.user
    segment = account_segment(account)
    plan = plan_selectors.current_plan(account)
    journeys = account.journeys.select_related("tam").prefetch_related("overdue_marks")
    journeys = journeys.order_by("-transaction_date", "-id")
    targets = target_days()
    context = {
        "account": account,
        "segment": segment,
        "children": selectors.account_children(account),
        "subscriptions": selectors.subscriptions_with_mrr(account),
        "contacts": selectors.account_contacts(account),
        "journeys": [(journey, journey_milestones(journey, segment, targets)) for journey in journeys],
        "plan": plan,
        "objectives": plan_selectors.plan_objectives(plan) if plan else [],
        "outcomes": [outcome for outcome in plan_selectors.outcome_statuses(account) if outcome.objectives],
        "state": plan_selectors.plan_states([account.pk])[account.pk],
        "timeline": plan_selectors.timeline(account),
        "can_edit_contacts": selectors.can_change_account(user, account, "accounts.change_contact"),
        "can_add_contacts": selectors.can_change_account(user, account, "accounts.add_contact"),
        "can_start_plan": selectors.can_change_account(user, account, "journeys.add_successplan")
        and (plan is None or plan.is_closed),
        "can_log": selectors.can_change_account(user, account, "journeys.add_activity"),
        "can_edit_activities": selectors.can_change_account(user, account, "journeys.change_activity"),
    }
    return render(request, "accounts/account.html", context)


def _contact_page(request, account: Account, contact: Contact | None):
    form = ContactForm(request.POST or None, instance=contact, account=account)
    if request.method == "POST" and form.is_valid():
        contact = services.save_contact(account, form)
        messages.success(request, f"Contact {contact.name} saved.")
        return redirect(reverse("accounts:account", args=[account.pk]) + "#contacts")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "accounts/contact_edit.html", {"account": account, "contact": contact, "form": form}, status=status
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def contact_new(request, pk: int):
    return _contact_page(request, _account_for(request, pk, "accounts.add_contact"), None)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def contact_edit(request, pk: int, contact_pk: int):
    contact = _contact_for(request, pk, contact_pk)
    return _contact_page(request, contact.account, contact)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@permission_required("accounts.reassign_account", raise_exception=True)
def reassign(request):
    """List the accounts of one book and move the selected ones to another TAM."""
    data = request.POST if request.method == "POST" else request.GET
    search_form = BookSearchForm(data)
    search = search_form.cleaned_data["q"] if search_form.is_valid() else ""
    books = selectors.books()
    book = next((book for book in books if book.key == data.get("from_tam", "")), None)
    form = ReassignForm(request.POST or None, book=book) if book is not None else None

    if request.method == "POST":
        if book is None:
            messages.error(request, "Choose whose accounts to move: that book is not listed.")
        elif search_form.is_valid() and form.is_valid() and _move(request, form, book):
            # The search stays, so that the next batch of the same search is one selection away.
            query = urlencode({"from_tam": book.key, **({"q": search} if search else {})})
            return redirect(f"{reverse('accounts:reassign')}?{query}")

    # A rejected move keeps the accounts it was given selected, and a link from an account page selects one.
    selected = set(data.getlist("accounts" if request.method == "POST" else "account"))
    context = {
        "books": books,
        "book": book,
        "search": search,
        "search_form": search_form,
        "page": selectors.book_accounts(book.tam, search) if book is not None else None,
        "selected": selected,
        "form": form,
    }
    rejected = request.method == "POST" or not search_form.is_valid()
    return render(request, "accounts/reassign.html", context, status=400 if rejected else 200)


def _move(request, form: ReassignForm, book: selectors.Book) -> bool:
    """Move the accounts of a valid form and add a success message, or add the reason to the form and return False."""
    to_tam = form.cleaned_data["to_tam"]
    account_ids = [account.pk for account in form.cleaned_data["accounts"]]
    try:
        moved = services.reassign_accounts(account_ids, book.tam, to_tam, user=request.user)
    except services.AccountsChanged as changed:
        form.add_error("accounts", _changed_message(changed))
        return False
    except services.TamNotActive:
        message = f"{to_tam.get_username()} is no longer an active TAM, so nothing was moved. Choose another TAM."
        form.add_error("to_tam", message)
        return False

    messages.success(
        request,
        f"Moved {_count(moved.accounts, 'account')} to {to_tam.get_username()},"
        f" with {_count(moved.journeys, 'open journey')}. Retention figures are being recomputed.",
    )
    return True


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _changed_message(changed: "services.AccountsChanged") -> str:
    parts = []
    if changed.names:
        parts.append(f"{', '.join(changed.names)} now belong{'s' if len(changed.names) == 1 else ''} to another TAM")
    if changed.missing:
        parts.append(f"{changed.missing} of the selected accounts no longer exist{'s' if changed.missing == 1 else ''}")
    return f"{'; '.join(parts)}. Nothing was moved: reload the page and select again."
