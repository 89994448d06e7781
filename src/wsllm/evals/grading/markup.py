"""`is-xml`, `contains-xml`, `is-html` and `contains-html`, with promptfoo's rules: XML read as
leniently as its parser reads it (required elements named as dotted paths), HTML recognised by
its tags, entities and attributes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from wsllm.evals.grading.context import GradingContext, verdict
from wsllm.evals.grading.registry import assertion
from wsllm.evals.results import GradingResult
from wsllm.evals.schema import Assertion
from wsllm.evals.validate import Where

_TOKEN = re.compile(r"<!--(.*?)(-->|$)|<!\[CDATA\[.*?(\]\]>|$)|<\?.*?(\?>|$)|<!.*?(>|$)|"
                    r"</\s*([^\s>]*)\s*(>|$)|<([^\s/>]+)((?:\"[^\"]*\"|'[^']*'|[^'\">])*?)(/?)(>|$)",
                    re.S)  # fmt: skip
_ATTRIBUTE = re.compile(r"([^\s=]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|\S+))?")


def _scalar(text: str) -> Any:
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?", stripped):
        number = float(stripped)
        return int(number) if number.is_integer() else number
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", stripped):
        return int(stripped, 16)
    return {"true": True, "false": False}.get(stripped, stripped)


def parse_xml(text: str) -> dict[str, Any]:
    """The document as nested mappings (repeated siblings as lists, attributes as `@_name`);
    ValueError for what the lenient parser refuses (unclosed tags, comments, attributes)."""
    root: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any], list[str]]] = [("", root, [])]
    position = 0
    for match in _TOKEN.finditer(text):
        stack[-1][2].append(text[position : match.start()])
        position = match.end()
        _token(match, stack)
    stack[-1][2].append(text[position:])
    while len(stack) > 1:
        _close(stack)
    return root


def _token(match: re.Match[str], stack: list[tuple[str, dict[str, Any], list[str]]]) -> None:
    whole = match.group(0)
    if whole.startswith("<!--"):
        if not match.group(2):
            raise ValueError("Comment is not closed.")
    elif whole.startswith("<?"):
        if not match.group(4):
            raise ValueError("Pi Tag is not closed.")
        stack[-1][1].setdefault("?" + whole[2:].split()[0].rstrip("?>"), "")
    elif whole.startswith("</"):
        if not match.group(7):
            raise ValueError("Closing Tag is not closed.")
        if len(stack) > 1:
            _close(stack)
    elif whole.startswith("<!"):
        return
    else:
        if not match.group(11):
            raise ValueError(f'readTagExp returned undefined. Context: "{whole[:20]}"')
        element: dict[str, Any] = {}
        for name, value in _ATTRIBUTE.findall(match.group(9) or ""):
            element[f"@_{name}"] = _scalar(value.strip("\"'")) if value else True
        stack.append((match.group(8), element, []))
        if match.group(10):
            _close(stack)


def _close(stack: list[tuple[str, dict[str, Any], list[str]]]) -> None:
    name, element, texts = stack.pop()
    text = "".join(texts).strip()
    value: Any = element
    if not element:
        value = _scalar(text) if text else ""
    elif text:
        element["#text"] = _scalar(text)
    parent = stack[-1][1]
    if name in parent:
        existing = parent[name]
        parent[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        parent[name] = value


def _required(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, list) and value:
        return [str(v) for v in value]
    if isinstance(value, dict) and value:
        return [str(v) for v in value["requiredElements"]]
    return []


def validate_xml(text: str, required: list[str]) -> tuple[bool, str]:
    """Whether `text` is XML holding every required element, and why not."""
    if not text.startswith("<"):
        return False, "XML is missing opening tag"
    try:
        parsed = parse_xml(text)
    except ValueError as exc:
        return False, f"XML parsing failed: {exc}"
    missing = [path for path in required if not _has(parsed, path.split("."))]
    if missing:
        return False, f"XML is missing required elements: {', '.join(missing)}"
    return True, "XML is valid and contains all required elements"


def _has(value: Any, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    return True


def _check_xml_value(spec: dict[str, Any], where: Where) -> None:
    value = spec.get("value")
    if isinstance(value, dict) and value and not isinstance(value.get("requiredElements"), list):
        raise where.key("value").error(
            "xml assertion must contain a string, array value, or no value"
        )


@assertion("is-xml", check=_check_xml_value)
def is_xml(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output is XML (holding the required elements the value names)."""
    valid, reason = validate_xml(c.text, _required(value))
    return verdict(valid, a, failure=lambda n: reason)


_XML_IN_TEXT = re.compile(r"<\?xml.*?>[\s\S]*</[^>]+>|\S*<[^>]+>[\s\S]*</[^>]+>")


@assertion("contains-xml", check=_check_xml_value)
def contains_xml(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """Some XML in the output (holding the required elements the value names)."""
    found = _XML_IN_TEXT.search(c.text)
    if found is None:
        return verdict(False, a, failure=lambda n: "No XML content found in the output")
    valid, reason = validate_xml(found.group(0), _required(value))
    if not valid:
        reason = "No valid XML content found matching the requirements"
    return verdict(valid, a, failure=lambda n: reason)


_HTML_SIGNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s[^>]*)?/>"), 1),
    (re.compile(r"&(?:[a-zA-Z]+|#[0-9]+|#x[0-9a-fA-F]+);"), 1),
    (re.compile(r"<!DOCTYPE\s+html", re.I), 2),
    (re.compile(r"<!--[^-]*(?:-[^-]+)*-->"), 1),
    (re.compile(r"\s[a-zA-Z-]+=\s*[\"'][^\"']*[\"']"), 1),
    (re.compile(r"<(html|head|body|div|span|p|a|img|h[1-6]|ul|ol|li|table|tr|td|th|form|input|"
                r"button|script|style|link|meta|br|hr)\b", re.I), 2),
)  # fmt: skip
_OPEN = re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s[^>]*)?>")
_CLOSE = re.compile(r"</[a-zA-Z][a-zA-Z0-9-]*\s*>")


def looks_like_html(text: str) -> bool:
    """promptfoo's test: tags, entities, a doctype, comments and attributes add up to 2."""
    if len(text) > 10 * 1024 * 1024:
        return False
    points = bool(_OPEN.search(text)) + bool(_CLOSE.search(text))
    points += sum(weight for pattern, weight in _HTML_SIGNS if pattern.search(text))
    return points >= 2


@assertion("contains-html")
def contains_html(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output contains HTML."""
    return verdict(looks_like_html(c.text), a,
                   failure=lambda n: f"Expected output to {n}contain HTML content")  # fmt: skip


HTML_ELEMENTS = frozenset((
    "html", "head", "title", "base", "link", "meta", "style", "body", "article", "section", "nav",
    "aside", "h1", "h2", "h3", "h4", "h5", "h6", "header", "footer", "address", "p", "hr", "pre",
    "blockquote", "ol", "ul", "li", "dl", "dt", "dd", "figure", "figcaption", "main", "div", "a",
    "em", "strong", "small", "s", "cite", "q", "dfn", "abbr", "ruby", "rt", "rp", "data", "time",
    "code", "var", "samp", "kbd", "sub", "sup", "i", "b", "u", "mark", "bdi", "bdo", "span", "br",
    "wbr", "img", "iframe", "embed", "object", "param", "picture", "source", "video", "audio",
    "track", "map", "area", "svg", "math", "script", "noscript", "canvas", "ins", "del", "table",
    "caption", "colgroup", "col", "tbody", "thead", "tfoot", "tr", "td", "th", "form", "label",
    "input", "button", "select", "datalist", "optgroup", "option", "textarea", "output",
    "progress", "meter", "fieldset", "legend", "details", "summary", "dialog", "menu", "slot",
    "template",
))  # fmt: skip


class _Outline(HTMLParser):
    """The tags of a document, and whether text stands outside every element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.depth = 0
        self.loose_text = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag not in ("br", "img", "hr", "meta", "link", "input", "wbr", "source", "col"):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        if self.depth == 0 and data.strip():
            self.loose_text = True


def validate_html(output: str) -> tuple[bool, str]:
    """Whether the output is an HTML document or fragment, and why not."""
    text = output.strip()
    if not text:
        return False, "Output is empty"
    if re.match(r"\s*<\?xml", text, re.I):
        return False, "Output appears to be XML, not HTML"
    outline = _Outline()
    outline.feed(text)
    outline.close()
    if outline.loose_text and "<body" not in text.lower():
        return False, "Output must be wrapped in HTML tags"
    lowered = text.lower()
    known = [t for t in outline.tags if (t in HTML_ELEMENTS or "-" in t)
             and (t not in ("html", "head", "body") or f"<{t}" in lowered)]  # fmt: skip
    if not known:
        return False, "Output does not contain recognized HTML elements"
    return True, "Output is valid HTML"


@assertion("is-html")
def is_html(a: Assertion, value: Any, c: GradingContext) -> GradingResult:
    """The output is HTML."""
    valid, reason = validate_html(c.text)
    return verdict(valid, a, failure=lambda n: reason)
