"""The bounded inbox over HTTP: /api/messages newest first with count, total and limit; the live bound; /inbox."""

import re
import smtplib

import pytest
from helpers import EMAIL

from sandbox_app.lab import inbox, post, reset


def send_many(server, count, start=0):
    """Send `count` messages numbered from `start` in their subjects, fast, over one SMTP connection."""
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        for number in range(start, start + count):
            client.sendmail("a@example.com", ["b@example.com"], f"Subject: #{number}\r\n\r\nhi\r\n".encode())


def subjects(listing):
    return [m["subject"] for m in listing["messages"]]


def inbox_rows(page):
    """The subjects in the /inbox page's table, top to bottom."""
    return re.findall(r"<td>(#\d+)</td>", page)


def test_messages_api_is_bounded_and_newest_first(client, mail_server):
    send_many(mail_server, 1100)
    listing = client.get("/api/messages").json
    assert (listing["count"], listing["total"]) == (1000, 1100)
    assert subjects(listing) == [f"#{n}" for n in range(1099, 999, -1)]  # 100 by default, newest first
    everything = client.get("/api/messages?limit=1000").json
    assert subjects(everything) == [f"#{n}" for n in range(1099, 99, -1)]  # the first 100 were dropped
    assert subjects(client.get("/api/messages?limit=1").json) == ["#1099"]

    page = client.get("/inbox").get_data(as_text=True)
    assert "Showing the newest 100 of 1,100 captured" in page
    assert inbox_rows(page) == [f"#{n}" for n in range(1099, 999, -1)]


@pytest.mark.parametrize("limit", ["abc", "0", "-1", "5000", "1001", "1.5", "", "٣", "00000000001"])
def test_a_bad_limit_is_a_400_naming_the_range(client, mail_server, limit):
    response = client.get("/api/messages", query_string={"limit": limit})
    assert response.status_code == 400
    assert "'limit' must be a whole number from 1 to 1000" in response.json["error"]


def test_delete_empties_the_inbox_and_restarts_the_total(client, mail_server):
    send_many(mail_server, 3)
    assert client.delete("/api/messages").json == {"deleted": 3}
    assert client.get("/api/messages").json == {"count": 0, "total": 0, "messages": []}
    send_many(mail_server, 1, start=3)
    assert client.get("/api/messages").json["total"] == 1


def test_max_messages_is_a_live_setting(client, mail_server):
    assert client.get("/api/smtp").json["settings"]["max_messages"] == 1000
    send_many(mail_server, 5)
    changed = client.put("/api/smtp", json={"max_messages": 3})
    assert changed.status_code == 200
    assert changed.json["settings"]["max_messages"] == 3
    listing = client.get("/api/messages").json
    assert (listing["count"], listing["total"], subjects(listing)) == (3, 5, ["#4", "#3", "#2"])  # dropped at once

    send_many(mail_server, 2, start=5)
    listing = client.get("/api/messages").json
    assert (listing["count"], listing["total"], subjects(listing)) == (3, 7, ["#6", "#5", "#4"])


@pytest.mark.parametrize("value", [0, -1, 2.5, "10", True, None])
def test_a_bad_max_messages_is_a_400_and_changes_nothing(client, mail_server, value):
    send_many(mail_server, 2)
    response = client.put("/api/smtp", json={"max_messages": value})
    assert response.status_code == 400
    assert "'max_messages' must be a whole number of at least 1" in response.json["error"]
    assert client.get("/api/smtp").json["settings"]["max_messages"] == 1000
    assert client.get("/api/messages").json["count"] == 2


def test_inbox_page_says_how_many_were_captured(client, mail_server):
    send_many(mail_server, 2)
    page = client.get("/inbox").get_data(as_text=True)
    assert "2 message(s) captured" in page and "Showing" not in page
    assert inbox_rows(page) == ["#1", "#0"]

    mail_server.configure(max_messages=20)  # the bound, not the page size, limits what is shown
    send_many(mail_server, 28, start=2)
    page = client.get("/inbox").get_data(as_text=True)
    assert "Showing the newest 20 of 30 captured" in page
    assert inbox_rows(page) == [f"#{n}" for n in range(29, 9, -1)]


def test_lab_inbox_caption_counts_what_was_captured_beyond_the_bound(sandbox):
    reset(sandbox)
    sandbox.mail_server.configure(max_messages=3)
    for number in range(5):
        post(sandbox, "send/blocking", {**EMAIL, "subject": f"#{number}"})
    table = inbox(sandbox, last=2, columns=("subject",))
    assert table.rows == [["#3"], ["#4"]]  # oldest first, as before
    assert table.caption == "Inbox: 5 messages captured, the newest 3 kept, the last 2 shown"
    assert inbox(sandbox).caption == "Inbox: 5 messages captured, the newest 3 kept"
    sandbox.mail_server.configure(max_messages=1000)
    reset(sandbox)
    post(sandbox, "send/blocking", EMAIL)
    assert inbox(sandbox).caption == "Inbox: 1 message captured"
