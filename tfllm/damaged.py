"""Reading files that may be damaged: a DataError naming the file and the damage, never a
traceback from the library underneath.

A file cut short by a full disk or a killed copy, emptied, or with bytes
flipped on the way, makes json, zipfile or the UTF-8 decoder raise errors that
do not say which file they came from. The readers here turn those into one
line: `PATH: what is wrong (expected what)`. Zip-based files (.keras, .npz)
carry a CRC-32 of every member, so `check_zip` finds a flipped byte anywhere in
their contents; JSON and text files carry no checksum, so only damage that
breaks their syntax or their encoding can be found.
"""

import json
import os
import zipfile
import zlib

from tfllm.errors import DataError


def error(path, problem, expected):
    """The DataError `PATH: problem (expected ...)` for a file that cannot be used."""
    return DataError(f"{path}: {problem} (expected {expected})")


def not_utf8(path, expected):
    """The DataError for a text file that is not UTF-8, with the byte offset and line of the
    first bad byte (a text-mode reader's UnicodeDecodeError counts from its buffer, not from
    the start of the file)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        start = decode_error.start
        line = data.count(b"\n", 0, start) + 1
        return error(f"{path}:{line}", f"not UTF-8 text: byte 0x{data[start]:02x} at offset "
                     f"{start} ({decode_error.reason}); the file is damaged", expected)
    return error(path, "not UTF-8 text", expected)  # the file changed since it was read


def read_text(path, expected):
    """The contents of the UTF-8 text file `path` (universal newlines, as open() reads)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise not_utf8(path, expected) from None
    except FileNotFoundError:
        raise error(path, "no such file (deleted, or never written)", expected) from None
    except IsADirectoryError:
        raise error(path, "a directory, not a file", expected) from None


def read_lines(path, expected, whole_lines=False):
    """The lines of the UTF-8 text file `path`, line ends removed (as line_files.read_lines).

    With `whole_lines`, for files whose writers end every line with a newline (tfllm's
    vocab.txt and labels.txt, transformers' vocab.txt, keras-hub's vocabulary.txt): a file
    that ends mid-line was cut short.
    """
    text = read_text(path, expected)
    if whole_lines and text and not text.endswith("\n"):
        last = text.count("\n") + 1
        raise error(f"{path}:{last}", "ends in the middle of a line, so the file was cut short",
                    expected)
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def check_entries(path, entries, what, expected):
    """Refuses an empty or repeated entry of a one-per-line file (a token, a label): its line
    number would be an id that no text or no prediction can use."""
    if not entries:
        raise error(path, "the file is empty", expected)
    seen = {}
    for number, entry in enumerate(entries, 1):
        if not entry.strip():
            raise error(f"{path}:{number}", f"an empty {what}", expected)
        if entry in seen:
            raise error(f"{path}:{number}", f"{what} {entry!r} again (first on line "
                        f"{seen[entry]})", expected)
        seen[entry] = number


def read_json(path, expected):
    """The parsed contents of the JSON file `path`; DataError when it is empty, not UTF-8 or
    not JSON (e.g. cut short), naming the line and column."""
    text = read_text(path, expected)
    if not text.strip():
        raise error(path, "the file is empty", expected)
    try:
        return json.loads(text)
    except json.JSONDecodeError as decode_error:
        raise error(f"{path}:{decode_error.lineno}:{decode_error.colno}",
                    f"not valid JSON ({decode_error.msg}); the file is damaged or incomplete",
                    expected) from None


def read_json_object(path, expected):
    """`read_json` of a file that must hold one JSON object (a dict)."""
    value = read_json(path, expected)
    if not isinstance(value, dict):
        raise error(path, f"holds a JSON {type(value).__name__}, not an object", expected)
    return value


def read_json_lines(path, expected):
    """The JSON object on each non-empty line of `path` (metrics.jsonl); DataError naming the
    line that is not one."""
    records = []
    for number, line in enumerate(read_lines(path, expected), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as decode_error:
            raise error(f"{path}:{number}", f"not valid JSON ({decode_error.msg}); the file "
                        "is damaged or incomplete", expected) from None
        if not isinstance(record, dict):
            raise error(f"{path}:{number}", f"a JSON {type(record).__name__}, not an object",
                        expected)
        records.append(record)
    return records


def check_zip(path, expected):
    """Reads every member of the zip archive `path` (a .keras or .npz file) and checks it
    against its CRC-32, so a flipped byte in the weights is an error rather than other weights.

    Flips in fields zip does not check (a member's timestamp, the local header's copy of the
    sizes) leave every member's bytes intact and so go unnoticed: they change nothing read.
    """
    if os.path.getsize(path) == 0:
        raise error(path, "the file is empty", expected)
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as zip_error:
        raise error(path, f"not a readable zip archive ({zip_error}); the file is damaged or "
                    "incomplete", expected) from None
    except (zlib.error, EOFError, NotImplementedError, ValueError, OSError) as zip_error:
        raise error(path, f"a zip archive that cannot be read ({type(zip_error).__name__}: "
                    f"{zip_error}); the file is damaged", expected) from None
    if bad is not None:
        raise error(path, f"member {bad} fails its CRC-32 check: its bytes changed after it "
                    "was written; the file is damaged", expected)
