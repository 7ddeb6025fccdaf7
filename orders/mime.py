"""Customer e-mails as the bytes an SMTP server receives, written directly.

Django's `EmailMultiAlternatives.message().as_bytes()` goes through the
`email` package's MIME objects and generator (header folding, a regular
expression compiled for every boundary): about two thirds of a millisecond
per message, the largest single cost of sending in bulk. A customer e-mail
is always the same shape (a plain text body, an HTML alternative, a few
headers), so `smtp_bytes` writes that shape straight to bytes with the same
headers, charsets and transfer encodings Django would choose. Anything else
(attachments, other alternatives, Cc/Bcc/Reply-To, a line longer than SMTP
allows) gives None: the caller lets Django build that message.
"""

import re
import secrets
from email.header import Header
from email.utils import formatdate, make_msgid

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.core.mail.message import sanitize_address
from django.core.mail.utils import DNS_NAME

CRLF = "\r\n"
# RFC 5322: no line longer than this; Django then switches to
# quoted-printable, which this writer leaves to Django.
MAX_LINE = 998
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_HANDLED = {"from", "to", "cc", "reply-to", "date", "message-id"}
# A bare address that `sanitize_address` would return unchanged: a dot-atom
# local part at an ASCII domain (IDNA leaves such labels as they are).
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
)


def smtp_bytes(message: EmailMultiAlternatives) -> tuple[str, list[str], bytes] | None:
    """Return (envelope sender, envelope recipients, message bytes) for a
    text e-mail with one HTML alternative, or None for any other shape."""
    encoding = message.encoding or settings.DEFAULT_CHARSET
    if (
        encoding.lower() != "utf-8"
        or message.content_subtype != "plain"
        or message.attachments
        or message.cc
        or message.bcc
        or message.reply_to
        or len(message.alternatives) != 1
        or message.alternatives[0][1] != "text/html"
        or not message.to
        or {name.lower() for name in message.extra_headers} & _HANDLED
    ):
        return None
    text = _body(message.body, "plain")
    html = _body(message.alternatives[0][0], "html")
    if text is None or html is None:
        return None
    sender = _address(message.from_email, encoding)
    recipients = [_address(address, encoding) for address in message.to]
    subject = str(message.subject)
    _no_newline("Subject", subject)
    boundary = _boundary(text, html)
    headers = [
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "MIME-Version: 1.0",
        "Subject: "
        + Header(subject, None if subject.isascii() else encoding).encode(linesep=CRLF),
        f"From: {sender}",
        "To: " + ", ".join(recipients),
        "Date: " + formatdate(localtime=settings.EMAIL_USE_LOCALTIME),
        "Message-ID: " + make_msgid(domain=DNS_NAME),
    ]
    for name, value in message.extra_headers.items():
        headers.append(f"{name}: {_header_value(name, value, encoding)}")
    if any(len(line) > MAX_LINE for line in headers):
        return None
    head = CRLF.join(headers)
    data = (
        f"{head}{CRLF}{CRLF}--{boundary}{CRLF}{text}{CRLF}--{boundary}{CRLF}"
        f"{html}{CRLF}--{boundary}--{CRLF}"
    )
    return sender, recipients, data.encode(encoding, errors="surrogateescape")


def _body(content: str, subtype: str) -> str | None:
    """One part, headers and body, CRLF line ends; None when a line is too
    long for SMTP (Django encodes those quoted-printable)."""
    lines = _LINE_BREAKS.split(str(content))
    if any(len(line) > MAX_LINE // 4 for line in lines) and any(
        len(line.encode(errors="surrogateescape")) > MAX_LINE for line in lines
    ):
        return None
    body = CRLF.join(lines)
    transfer = "7bit" if body.isascii() else "8bit"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}MIME-Version: 1.0{CRLF}'
        f"Content-Transfer-Encoding: {transfer}{CRLF}{CRLF}{body}"
    )


def _address(address: str, encoding: str) -> str:
    """`sanitize_address`, without its parser for a plain address (the
    parser costs more than the rest of the message)."""
    if isinstance(address, str) and _PLAIN_ADDRESS.fullmatch(address):
        return address
    return sanitize_address(address, encoding)


def _boundary(*parts: str) -> str:
    while True:
        boundary = f"==============={secrets.token_hex(12)}=="
        if not any(boundary in part for part in parts):
            return boundary


def _no_newline(name: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise BadHeaderError(
            f"Header values can't contain newlines (got {value!r} for header {name!r})"
        )


def _header_value(name: str, value, encoding: str) -> str:
    value = str(value)
    _no_newline(name, value)
    if value.isascii():
        return value
    return Header(value, encoding).encode(linesep=CRLF)
