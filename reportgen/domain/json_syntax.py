"""Where a JSON text really goes wrong, said in plain words.

:class:`json.JSONDecodeError` names the place where the *parser* gave up, in the parser's words,
and that is often not where the writer went wrong: for a trailing comma (``[1, 2,⏎]``) it says
"Expecting value" at the ``]`` on the next line; for a string whose closing quote is missing it
says "Invalid control character" at the end of the line. People fix the comma, or the quote, so
:func:`culprit` turns the parser's error into the place to fix (line and column counting from 1)
and a sentence that says what to do there; the API (``details["$"]``), the upload form and the
CLI all show the same one.

Only on the error path, and linear in the text: what the parser accepted before the error is
valid JSON, so a short look back from the error's position (to the comma, to the opening quote)
is all it takes. Pure standard library, like the rest of :mod:`reportgen.domain`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.+-]*")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)\b')
_CLOSER = {"[": "]", "{": "}"}
TRAILING_COMMA = "a comma after the last item: remove this comma (JSON allows none before a ] or })"
_CONSTANTS = {"True": "true", "False": "false", "None": "null", "TRUE": "true", "FALSE": "false",
              "NULL": "null", "Null": "null"}


@dataclass(frozen=True, slots=True)
class Culprit:
    """What to fix and where: ``line`` and ``column`` count from 1, the column in characters."""

    reason: str
    line: int
    column: int


def position(text: str, offset: int) -> tuple[int, int]:
    """The line and column (both from 1) of a character offset into ``text``."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


def _at(text: str, offset: int, reason: str) -> Culprit:
    return Culprit(reason, *position(text, offset))


def _before(text: str, offset: int) -> int:
    """The offset of the last character before ``offset`` that is not white space (-1 if none)."""
    index = offset - 1
    while index >= 0 and text[index] in " \t\r\n":
        index -= 1
    return index


def _string_start(text: str, offset: int) -> int:
    """The opening quote of the string that ``offset`` is inside: the last ``"`` before it that
    no backslash escapes (a string the parser is still reading has no other)."""
    index = text.rfind('"', 0, offset)
    while index > 0:
        backslashes = 0
        while text[index - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return index
        index = text.rfind('"', 0, index)
    return max(index, 0)


def _open_brackets(text: str, end: int) -> list[int]:
    """The offsets of the ``[`` and ``{`` still open at ``end``, outermost first."""
    stack: list[int] = []
    for match in _TOKENS.finditer(text, 0, end):
        token = match.group()
        if token in "[{":
            stack.append(match.start())
        elif token in "]}":
            if stack:
                stack.pop()
    return stack


def _trailing_comma(text: str, offset: int) -> Culprit | None:
    comma = _before(text, offset)
    if comma >= 0 and text[comma] == ",":
        return _at(text, comma, TRAILING_COMMA)
    return None


def _ends_early(text: str) -> Culprit:
    """The text ends while arrays or objects are still open: point at the innermost one."""
    stack = _open_brackets(text, len(text))
    last = _before(text, len(text))
    if last >= 0 and text[last] == ",":
        return _at(text, last, "the JSON ends after this comma: an item is missing after it, "
                               "or the comma is one too many")
    if last >= 0 and text[last] == ":":
        return _at(text, last, "the JSON ends after this colon: the value that belongs to the name is missing")
    if stack:
        opener = text[stack[-1]]
        return _at(text, stack[-1], f"this {opener} is never closed: the JSON ends before its {_CLOSER[opener]}")
    return _at(text, len(text), "the JSON ends too early: something is missing at the end")


def _unquoted(text: str, offset: int, what: str) -> Culprit:
    """A value or name that does not start as JSON allows: say what it looks like."""
    char = text[offset]
    if char == "'":
        return _at(text, offset, f"{what} in single quotes: JSON needs double quotes (\") around text")
    word = _WORD.match(text, offset)
    if word:
        name = word.group()
        if name in _CONSTANTS:
            return _at(text, offset, f"{name} is not JSON: write {_CONSTANTS[name]} (in lower case)")
        return _at(text, offset, f"{what} without quotes: put text in double quotes, as in \"{name[:40]}\"")
    if char == ",":
        return _at(text, offset, f"{what} is missing before this comma")
    if char in "]}":
        return _at(text, offset, f"{what} is missing before this {char}")
    return _at(text, offset, f"{char!r} cannot start {what}: a value is text in double quotes, a number, "
                             "true, false, null, an array [ … ] or an object { … }")


def culprit(text: str, error: json.JSONDecodeError) -> Culprit:
    """The place to fix for a :class:`json.JSONDecodeError` of ``text``, in plain words."""
    message, offset = error.msg, error.pos
    at_end = offset >= len(text.rstrip(" \t\r\n"))
    char = text[offset] if offset < len(text) else ""
    if message.startswith("Illegal trailing comma"):  # what Python 3.13 and later say
        return _at(text, offset if char == "," else _before(text, offset), TRAILING_COMMA)
    if message == "Expecting value":
        if at_end:
            return _ends_early(text)
        if char == "]":
            return _trailing_comma(text, offset) or _at(text, offset, "a value is missing before this ]")
        return _unquoted(text, offset, "a value")
    if message.startswith("Expecting property name"):
        if at_end:
            return _ends_early(text)
        if char == "}":
            return _trailing_comma(text, offset) or _at(text, offset, "a name in double quotes is missing here")
        return _unquoted(text, offset, "a name")
    if message == "Expecting ':' delimiter":
        if at_end:
            return _ends_early(text)
        return _at(text, _before(text, offset) + 1, "a colon (:) is missing after this name")
    if message == "Expecting ',' delimiter":
        if at_end:
            return _ends_early(text)
        previous = _before(text, offset)
        if text.count("\n", previous, offset):
            return _at(text, previous + 1, "a comma is missing at the end of this line, after the value")
        if char == '"' or _WORD.match(text, offset):
            return _at(text, offset, "a comma is missing before this, or a quote (\") is missing or one too many "
                                     "in the text just before it")
        stack = _open_brackets(text, offset)
        closer = _CLOSER[text[stack[-1]]] if stack else "]"
        return _at(text, offset, f"a comma or a closing {closer} is missing before this")
    if message.startswith("Unterminated string"):
        return _at(text, offset, "this text has no closing quote (\")")
    if message.startswith("Invalid control character"):
        if char in "\r\n":
            return _at(text, _string_start(text, offset),
                       "this text has no closing quote (\") before the end of the line")
        name = "a tab" if char == "\t" else f"an invisible control character (U+{ord(char):04X})"
        written = "\\t" if char == "\t" else f"\\u{ord(char):04x}"
        return _at(text, offset, f"{name} inside quotes: write it as {written}")
    if message == "Invalid \\uXXXX escape":
        return _at(text, text.rfind("\\", 0, offset + 1), "\\u must be followed by four hexadecimal digits")
    if message == "Invalid \\escape":
        return _at(text, offset, "a backslash (\\) inside quotes must be written as \\\\ "
                                 "(a single one only starts \\n, \\t, \\\" and the like)")
    if message == "Extra data":
        if char in "]}":
            return _at(text, offset, f"one {char} too many: nothing is open here for it to close")
        if char == ",":
            return _at(text, offset, "more after the end of the data: an [ is missing at the start "
                                     "to make the students one array")
        if char == "\x00":
            return _at(text, offset, "an invisible NUL character after the end of the data: remove it")
        return _at(text, offset, "more after the end of the data: send one array (or one object); "
                                 "put all the students inside one [ … ]")
    return _at(text, offset, f"the JSON cannot be read here ({message})")


def constant(text: str) -> Culprit:
    """Where the first ``NaN`` or ``Infinity`` is (which Python reads but JSON does not have)."""
    for match in _CONSTANT.finditer(text):
        if match.group(1):
            return _at(text, match.start(1), f"{match.group(1)} is not JSON: write a number or null")
    return Culprit("NaN and Infinity are not JSON: write a number or null", 1, 1)
