"""What a draft is made of: sanitised HTML, its plain text, the content hash, files and diffs.

Pure functions (no database): the services, the tamper watch and the verifier share them, so
"the text that was signed" means exactly one thing everywhere.
"""

from __future__ import annotations

import difflib
import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

from yuqing.lib import uploads

# --------------------------------------------------------------------------- HTML

ALLOWED_TAGS = {
    "p", "div", "br", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li",
    "blockquote", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "hr", "sub", "sup",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}, "td": {"colspan", "rowspan"}}
# Images in a draft are the draft's own uploads, served by this application: no tracking
# pixels, no data: URLs smuggling content past the type check.
_OWN_IMAGE = re.compile(r"^/publishing/files/\d+/$")


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        return value if _OWN_IMAGE.match(value) else None
    return value


def sanitize_body(raw: str) -> str:
    """The only HTML a draft body may hold; everything else (scripts, styles, handlers) goes."""
    cleaned = nh3.clean(
        raw or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        attribute_filter=_attribute_filter,
        strip_comments=True,
    )
    return cleaned.strip()


_BLOCKS = {"p", "h2", "h3", "h4", "li", "blockquote", "tr", "div", "table", "ul", "ol"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(body: str) -> str:
    """Plain text of a sanitised body: one paragraph a line, what the checks and diffs read."""
    parser = _Text()
    parser.feed(body or "")
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def markdownish_to_html(text: str) -> str:
    """A plain-text body (the editor without JavaScript) as paragraphs."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n|\n", text or "") if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def content_hash(
    *, title: str, body: str, channels: Iterable[str], attachments: Iterable[str]
) -> str:
    """sha-256 over a canonical JSON of everything a signer approves."""
    canonical = json.dumps(
        {
            "v": 1,
            "title": title,
            "body": body,
            "channels": sorted(channels),
            "attachments": list(attachments),
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def normalize_for_compare(text: str) -> str:
    """Text with width, case and all whitespace folded: layout changes are not tampering."""
    folded = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"\s+", "", folded)


# --------------------------------------------------------------------------- files

IMAGE_MAX_BYTES = 5 * 1024 * 1024
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class FileType:
    kind: str  # "image" or "document"
    content_type: str
    extension: str


class FileRefused(ValueError):
    pass


def sniff(data: bytes) -> FileType | None:
    """The file's type by its content (never by its name or the browser's claim)."""
    kind = uploads.sniff_type(data)
    if kind == "zip":
        kind = uploads.office_kind(data)
    if kind is None:
        return None
    if kind in uploads.IMAGE_KINDS:
        group = "image"
    elif kind in ("pdf", "docx", "xlsx"):
        group = "document"
    else:
        return None
    extension = "jpg" if kind == "jpeg" else kind
    return FileType(group, uploads.CONTENT_TYPES[kind], extension)


def check_upload(data: bytes) -> FileType:
    """Accept images and office documents within their size limits; say why otherwise."""
    kind = sniff(data)
    if kind is None:
        raise FileRefused("type")
    limit = IMAGE_MAX_BYTES if kind.kind == "image" else DOCUMENT_MAX_BYTES
    if len(data) > limit:
        raise FileRefused("size")
    return kind


def extract_document_text(data: bytes, filename: str) -> str:
    """Text of an attached document for the checks; '' when it cannot be read."""
    from yuqing.text.proofread import extract_text

    try:
        return str(extract_text(data, filename).text)
    except Exception:  # a hostile or broken file must not break the upload; it has no text
        return ""


# --------------------------------------------------------------------------- diffs


@dataclass(frozen=True)
class DiffRow:
    kind: str  # "same", "changed", "added", "removed"
    left: str  # safe HTML
    right: str  # safe HTML


def _inline(a: str, b: str) -> tuple[str, str]:
    left: list[str] = []
    right: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = html.escape(a[i1:i2]), html.escape(b[j1:j2])
        if op == "equal":
            left.append(old)
            right.append(new)
            continue
        if old:
            left.append(f"<del>{old}</del>")
        if new:
            right.append(f"<ins>{new}</ins>")
    return "".join(left), "".join(right)


def side_by_side(old: str, new: str) -> list[DiffRow]:
    """Paragraph rows, changed characters marked with <del>/<ins>; every piece escaped."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            rows += [DiffRow("same", html.escape(x), html.escape(x)) for x in a[i1:i2]]
        elif op == "delete":
            rows += [DiffRow("removed", f"<del>{html.escape(x)}</del>", "") for x in a[i1:i2]]
        elif op == "insert":
            rows += [DiffRow("added", "", f"<ins>{html.escape(x)}</ins>") for x in b[j1:j2]]
        else:
            olds, news = a[i1:i2], b[j1:j2]
            for k in range(max(len(olds), len(news))):
                if k < len(olds) and k < len(news):
                    rows.append(DiffRow("changed", *_inline(olds[k], news[k])))
                elif k < len(olds):
                    rows.append(DiffRow("removed", f"<del>{html.escape(olds[k])}</del>", ""))
                else:
                    rows.append(DiffRow("added", "", f"<ins>{html.escape(news[k])}</ins>"))
    return rows


def unified(old: str, new: str, *, old_name: str, new_name: str, limit: int = 8000) -> str:
    diff = "\n".join(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), old_name, new_name, lineterm="", n=1
        )
    )
    return diff[:limit]


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[: max(0, offset)]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1
