"""Tickets, news and updates over HTTP on both databases: a ticket from a customer to staff
and back, staff acting on a refill ticket, canned replies, hostile input (escaped, never a
500), other customers' tickets and orders (404 or a refusal)."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

from markupsafe import escape
from sqlalchemy import func, select

from opensmm.accounts.models import User
from opensmm.orders import service as orders
from opensmm.refills.models import Refill
from opensmm.tickets.models import Ticket
from tests.support.panel import Panel
from tests.web.support import Person, WebClient, make_person

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def place(panel: Panel, person: Person, service_id: int, *, completed: bool = False) -> int:
    with panel.write() as session:
        user = session.get(User, person.id)
        assert user is not None
        order_id = orders.place_order(session, user, {"service": service_id,
                                                      "link": "https://x.test/p",
                                                      "quantity": 100}).id
    if completed:
        panel.set_order(order_id, status="Completed")
    return order_id


def new_ticket(client: WebClient, **fields: str) -> int:
    values = {"subject": "other", "title": "Help", "message": "Hello", "order_ids": ""}
    values.update(fields)
    answer = client.post("/tickets/new", values)
    assert answer.status_code == 303, answer.text[:2000]
    match = re.fullmatch(r"/tickets/(\d+)", answer.headers["location"])
    assert match
    return int(match.group(1))


def tickets_of(panel: Panel, person: Person) -> int:
    with panel.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.user_id == person.id)) or 0)


def test_a_ticket_goes_from_customer_to_staff_and_back(panel: Panel, visitor: WebClient,
                                                       other_visitor: WebClient) -> None:
    customer = make_person(panel)
    agent = make_person(panel, staff=True)
    visitor.login(customer)
    assert "/tickets" in visitor.get("/dashboard").text  # the nav link
    form = visitor.get("/tickets/new")
    assert form.status_code == 200 and 'name="order_ids"' in form.text
    ticket_id = new_ticket(visitor, title=SCRIPT, message=f"{SCRIPT}\nsecond line")
    page = visitor.get(f"/tickets/{ticket_id}")
    assert page.status_code == 200
    assert SCRIPT not in page.text
    assert f"{escape(SCRIPT)}\nsecond line" in page.text

    other_visitor.login(agent)
    inbox = other_visitor.get("/admin/tickets", params={"unread": "1"})
    assert inbox.status_code == 200
    assert f'data-ticket="{ticket_id}" class="unread"' in inbox.text
    assert SCRIPT not in inbox.text and "&lt;script&gt;" in inbox.text
    staff_page = other_visitor.get(f"/admin/tickets/{ticket_id}")
    assert staff_page.status_code == 200 and SCRIPT not in staff_page.text
    reply = other_visitor.post(f"/admin/tickets/{ticket_id}/reply",
                               {"message": "Done <b>now</b>\nthanks"})
    assert "Reply sent." in other_visitor.flash(reply)
    assigned = other_visitor.post(f"/admin/tickets/{ticket_id}/assign",
                                  {"assignee": str(agent.id)})
    assert f"Ticket {ticket_id} assigned." in other_visitor.flash(assigned)
    mine = other_visitor.get("/admin/tickets", params={"assignee": "me", "subject": "other",
                                                       "status": "answered"})
    assert f'data-ticket="{ticket_id}"' in mine.text
    nobody = other_visitor.get("/admin/tickets", params={"assignee": "none"})
    assert f'data-ticket="{ticket_id}"' not in nobody.text

    listing = visitor.get("/tickets")
    assert "New reply" in listing.text
    assert "1 ticket has a new reply" in visitor.get("/dashboard").text
    thread = visitor.get(f"/tickets/{ticket_id}")
    assert "Done &lt;b&gt;now&lt;/b&gt;\nthanks" in thread.text
    assert "Answered" in thread.text
    assert "New reply" not in visitor.get("/tickets").text  # read now
    answered = visitor.post(f"/tickets/{ticket_id}/reply", {"message": "Thank you"})
    assert "Your reply was sent." in visitor.flash(answered)
    assert "Customer reply" in other_visitor.get(f"/admin/tickets/{ticket_id}").text

    closed = other_visitor.post(f"/admin/tickets/{ticket_id}/close")
    assert f"Ticket {ticket_id} closed." in other_visitor.flash(closed)
    late = visitor.post(f"/tickets/{ticket_id}/reply", {"message": "one more"})
    assert late.status_code == 400
    assert "This ticket is closed" in late.text
    reopened = other_visitor.post(f"/admin/tickets/{ticket_id}/reopen")
    assert f"Ticket {ticket_id} reopened." in other_visitor.flash(reopened)
    audit = other_visitor.get("/admin/audit").text
    for text in (f"Replied to ticket {ticket_id}", f"Assigned ticket {ticket_id} to",
                 f"Closed ticket {ticket_id}", f"Reopened ticket {ticket_id}"):
        assert text in audit


def test_other_customers_tickets_and_orders_are_not_reachable(
    panel: Panel, visitor: WebClient, other_visitor: WebClient
) -> None:
    owner, stranger = make_person(panel, balance="5"), make_person(panel, balance="5")
    service = panel.service(refill=True)
    theirs = place(panel, owner, service)
    other_visitor.login(owner)
    ticket_id = new_ticket(other_visitor, subject="refill", order_ids=str(theirs))
    visitor.login(stranger)
    assert visitor.get(f"/tickets/{ticket_id}").status_code == 404
    answer = visitor.post(f"/tickets/{ticket_id}/reply", {"message": "hijack"})
    assert answer.status_code in (303, 400, 404)
    refused = visitor.post("/tickets/new", {"subject": "refill", "title": "Mine",
                                            "message": "Please", "order_ids": str(theirs)})
    assert refused.status_code == 400
    assert f"These are not your orders: {theirs}" in refused.text
    assert 'value="Mine"' in refused.text
    assert tickets_of(panel, stranger) == 0
    # A customer is refused every staff ticket page.
    for path in ("/admin/tickets", f"/admin/tickets/{ticket_id}", "/admin/canned",
                 "/admin/news"):
        assert visitor.get(path).status_code == 403
    assert visitor.post(f"/admin/tickets/{ticket_id}/orders/{theirs}/refill").status_code == 403
    with panel.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Refill).where(
            Refill.order_id == theirs)) == 0


def test_hostile_input_never_answers_500(panel: Panel, visitor: WebClient,
                                         other_visitor: WebClient) -> None:
    customer, agent = make_person(panel), make_person(panel, staff=True)
    visitor.login(customer)
    other_visitor.login(agent)
    for fields in (
        {"subject": "other", "title": "x" * 151, "message": "m"},
        {"subject": "other", "title": "t", "message": "m" * 5001},
        {"subject": "\x00", "title": "t", "message": "m"},
        {"subject": "order", "title": "t", "message": "m", "order_ids": "1e9, -4, \x00"},
        {"subject": "order", "title": "t", "message": "m", "order_ids": "9" * 40},
        {"subject": "other", "title": "\x00\x01", "message": "\x00"},
    ):
        answer = visitor.post("/tickets/new", fields)
        assert answer.status_code == 400, (fields, answer.status_code)
    assert tickets_of(panel, customer) == 0
    nul = new_ticket(visitor, title="a\x00b\x1bc", message="x\x00y\r\nz")
    with panel.db.read() as session:
        ticket = session.get(Ticket, nul)
        assert ticket is not None and ticket.title == "abc"
    for path in ("/tickets/2147483648", "/tickets/99999999999999999999999",
                 "/admin/tickets/2147483648", "/admin/tickets/0"):
        client = other_visitor if path.startswith("/admin") else visitor
        assert client.get(path).status_code == 404, path
    for params in ({"status": "\x00"}, {"subject": "'; drop"}, {"assignee": "99999999999999"},
                   {"assignee": "\x00"}, {"page": "-1"}, {"canned": "\x00"}):
        assert other_visitor.get("/admin/tickets", params=params).status_code == 200
    assert other_visitor.get(f"/admin/tickets/{nul}",
                             params={"canned": "2147483647"}).status_code == 404
    for path, data in (
        (f"/admin/tickets/{nul}/assign", {"assignee": "99999999999999999"}),
        (f"/admin/tickets/{nul}/assign", {"assignee": str(customer.id)}),
        (f"/admin/tickets/{nul}/orders/2147483648/refill", {}),
        (f"/admin/tickets/{nul}/orders/5/refill", {}),
        (f"/admin/tickets/{nul}/reply", {"message": ""}),
        ("/admin/canned", {"title": "", "body": "x"}),
        ("/admin/news", {"title_en": "", "body_en": ""}),
    ):
        answer = other_visitor.post(path, data)
        assert answer.status_code in (303, 400, 404), (path, answer.status_code)


def test_staff_act_on_a_refill_ticket_with_one_button(panel: Panel, visitor: WebClient,
                                                      other_visitor: WebClient) -> None:
    customer, agent = make_person(panel, balance="5"), make_person(panel, staff=True)
    service = panel.service(refill=True, rate=Decimal("1"))
    done = place(panel, customer, service, completed=True)
    waiting = place(panel, customer, service)
    visitor.login(customer)
    ticket_id = new_ticket(visitor, subject="refill", title="Refill please",
                           order_ids=f"{done}, {waiting}")
    other_visitor.login(agent)
    page = other_visitor.get(f"/admin/tickets/{ticket_id}").text
    assert f"/admin/tickets/{ticket_id}/orders/{done}/refill" in page
    assert f"/admin/tickets/{ticket_id}/orders/{waiting}/refill" not in page
    assert "Refill is available only for completed or partial orders" in page
    acted = other_visitor.post(f"/admin/tickets/{ticket_id}/orders/{done}/refill")
    with panel.db.read() as session:
        refills = list(session.scalars(select(Refill).where(Refill.order_id == done)))
    assert len(refills) == 1
    assert f"Refill {refills[0].id} requested for order {done}." in other_visitor.flash(acted)
    again = other_visitor.post(f"/admin/tickets/{ticket_id}/orders/{done}/refill")
    assert "A refill for this order is already in progress" in other_visitor.flash(again)
    wrong = other_visitor.post(f"/admin/tickets/{ticket_id}/orders/{done}/cancel")
    assert "This ticket does not ask for that" in other_visitor.flash(wrong)
    thread = visitor.get(f"/tickets/{ticket_id}").text
    assert f"Refill {refills[0].id} requested for order {done}." in thread
    assert "A refill for this order is already in progress" in thread
    assert f'data-refill="{refills[0].id}"' in visitor.get("/refills").text
    with panel.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Refill).where(
            Refill.order_id == done)) == 1
    assert panel.ledger_mismatches() == []


def test_canned_replies_are_inserted_into_the_reply_box(panel: Panel, visitor: WebClient,
                                                        other_visitor: WebClient) -> None:
    customer, agent = make_person(panel), make_person(panel, staff=True)
    visitor.login(customer)
    ticket_id = new_ticket(visitor)
    other_visitor.login(agent)
    added = other_visitor.post("/admin/canned", {"title": "Thanks <i>",
                                                 "body": "Thank you for waiting <3"})
    assert "Canned reply Thanks &lt;i&gt; added." in other_visitor.flash(added)
    listing = other_visitor.get("/admin/canned").text
    canned_id = re.search(r'data-canned="(\d+)"', listing)
    assert canned_id
    filled = other_visitor.get(f"/admin/tickets/{ticket_id}",
                               params={"canned": canned_id.group(1)}).text
    assert ">Thank you for waiting &lt;3</textarea>" in filled
    deleted = other_visitor.post(f"/admin/canned/{canned_id.group(1)}/delete")
    assert "Canned reply deleted." in other_visitor.flash(deleted)


def test_news_in_each_language_and_the_catalogs_updates(panel: Panel, visitor: WebClient,
                                                        other_visitor: WebClient) -> None:
    customer, agent = make_person(panel), make_person(panel, staff=True)
    other_visitor.login(agent)
    refused = other_visitor.post("/admin/news", {"title_ar": "عنوان", "body_ar": "نص"})
    assert refused.status_code == 400
    assert "at least in the panel&#39;s default language" in refused.text
    posted = other_visitor.post("/admin/news", {
        "title_en": "New prices", "body_en": f"Cheaper now\n{SCRIPT}",
        "title_ar": "أسعار جديدة", "body_ar": "أرخص الآن",
    })
    assert "posted" in other_visitor.flash(posted)
    visitor.login(customer)
    dashboard = visitor.get("/dashboard").text
    assert "New prices" in dashboard
    assert SCRIPT not in dashboard and "Cheaper now\n&lt;script&gt;" in dashboard
    assert "New prices" in visitor.get("/news").text
    arabic = WebClient(panel.url)
    try:
        arabic.http.cookies.set("opensmm_lang", "ar")
        arabic.login(customer)
        assert "أسعار جديدة" in arabic.get("/news").text
    finally:
        arabic.close()
    service_id = panel.service(name="Updates <b>Likes</b>", rate="0.5")
    updates = visitor.get("/updates").text
    assert f'<span class="muted">{service_id}</span> · Updates &lt;b&gt;Likes&lt;/b&gt;' in updates
    assert "New service" in updates


def test_parallel_clicks_refill_once_and_open_at_most_the_limit(
    panel: Panel, visitor: WebClient
) -> None:
    customer = make_person(panel, balance="5")
    agents = [make_person(panel, staff=True) for _ in range(2)]
    service = panel.service(refill=True, rate=Decimal("1"))
    done = place(panel, customer, service, completed=True)
    visitor.login(customer)
    ticket_id = new_ticket(visitor, subject="refill", order_ids=str(done))
    desks = [WebClient(panel.url) for _ in range(4)]
    try:
        for n, desk in enumerate(desks):
            desk.login(agents[n % 2])
        tokens = [desk.token() for desk in desks]
        start = threading.Barrier(len(desks))
        answers: list[int] = []

        def click(desk: WebClient, token: str) -> None:
            start.wait()
            answers.append(desk.post(f"/admin/tickets/{ticket_id}/orders/{done}/refill",
                                     {"csrf": token}).status_code)

        threads = [threading.Thread(target=click, args=pair)
                   for pair in zip(desks, tokens, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [303] * 4
    finally:
        for desk in desks:
            desk.close()
    with panel.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Refill).where(
            Refill.order_id == done)) == 1
    thread_page = visitor.get(f"/tickets/{ticket_id}").text
    assert thread_page.count("A refill for this order is already in progress") == 3
    assert panel.ledger_mismatches() == []

    # Eight tickets opened at once: the open-ticket limit holds (one already open).
    hurried = make_person(panel)
    clients = [WebClient(panel.url) for _ in range(8)]
    try:
        for client in clients:
            client.login(hurried)
        tokens = [client.token() for client in clients]
        start = threading.Barrier(len(clients))
        codes: list[int] = []

        def open_one(client: WebClient, token: str) -> None:
            start.wait()
            codes.append(client.post("/tickets/new", {
                "csrf": token, "subject": "other", "title": "t", "message": "m"}).status_code)

        threads = [threading.Thread(target=open_one, args=pair)
                   for pair in zip(clients, tokens, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for client in clients:
            client.close()
    assert sorted(codes) == [303] * 5 + [400] * 3
    assert tickets_of(panel, hurried) == 5
