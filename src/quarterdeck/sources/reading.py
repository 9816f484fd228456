"""Reading CSV files the way people really have them, into Arrow columns of text.

Handles UTF-8 with or without a byte-order mark, UTF-16 (Excel's "Unicode text"), cp1252,
any of the usual delimiters, quoted newlines and very large files (Arrow's multi-threaded
reader). Files that are not CSV at all (Excel workbooks, PDFs, binaries, empty files) are
refused with a message that says what the file looks like. Rows that do not fit the header
become rejects with their physical line number; finding those line numbers needs a second,
slower pass, which only runs when something is wrong.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

from quarterdeck.errors import InputError

__all__ = ["MAX_FIELD", "CsvFile", "Reject", "read_csv"]

MAX_FIELD = 1_000_000
"""Longest field accepted, in characters: longer ones are rejected (a file glued into a cell)."""

_SAMPLE = 1 << 16
_DELIMITERS = ",;\t|"
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip file (unpack it first)"),
    (b"SQLite format 3", "an SQLite database"),
)
# Multi-byte UTF-8 sequences that a cp1252 file practically never holds: U+0080 to U+00FF
# (accented letters, no-break space, degree...) and the general punctuation and euro sign.
_UTF8_MARKS = re.compile(rb"[\xc2\xc3][\x80-\xbf]|\xe2[\x80-\x82][\x80-\xbf]")


@dataclass(frozen=True)
class Reject:
    """A row set aside: where it is, which column, the value and why."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    reason: str

    def message(self) -> str:
        where = f"{self.file}"
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        value = ""
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            value = f" {shown!r}:"
        return f"{where}:{value} {self.reason}"


class CsvFile:
    """A CSV file whose header is known and whose rows are read on first use.

    ``read_csv`` only looks at the start of the file (enough to refuse what is not CSV and
    to find the encoding, delimiter and header), so detecting the format of a folder of
    exports costs nothing. ``table`` reads every row as text (empty cells are empty strings,
    never null); ``release`` frees them once an importer has turned them into canonical
    columns, so a large import holds one file's text at a time.
    """

    def __init__(
        self,
        path: Path,
        encoding: str,
        delimiter: str,
        header: tuple[str, ...],
        *,
        encoding_given: bool = False,
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = delimiter
        self._header = header
        self._names = header
        self._encoding_given = encoding_given
        self._table: pa.Table | None = None
        self._rows: int | None = None
        self._lines: list[int] | None = None
        self._simple_lines = False
        self._only: set[str] | None = None
        self.sha256 = ""
        self.bad_rows: list[Reject] = []
        """Records that could not be split into the header's columns (with line numbers)."""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def header(self) -> tuple[str, ...]:
        return self._names

    def only(self, columns: set[str]) -> None:
        """Read just these columns (by current name) when the rows are loaded: the rest of a
        wide export is never held in memory. Names not in the header are ignored."""
        if self._table is None:
            self._only = {self._header[i] for i, n in enumerate(self._names) if n in columns}

    def rename(self, names: list[str]) -> None:
        """Give the columns other names (such as API names for report labels)."""
        if len(names) != len(self._header):
            raise ValueError(names)
        self._names = tuple(names)
        if self._table is not None:
            self._table = self._table.rename_columns(names)

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            if self._rows is not None:
                raise RuntimeError(f"{self.name} was released")
            self._load()
        assert self._table is not None
        return self._table

    @table.setter
    def table(self, value: pa.Table) -> None:
        """Replace the rows' text (an importer applying declared corrections)."""
        self._table = value

    def release(self) -> None:
        """Free the text of the rows; counts, hash and line numbers stay."""
        if self._table is not None:
            self._rows = self._table.num_rows
            self._table = None
            # Arrow's allocator keeps freed memory for reuse; hand it back to the system.
            pa.default_memory_pool().release_unused()

    @property
    def num_rows(self) -> int:
        rows = self._rows if self._table is None and self._rows is not None else self.table.num_rows
        return rows + len(self.bad_rows)

    def line_of(self, row: int) -> int:
        """Physical line (1-based) where data row ``row`` (0-based, of ``table``) starts."""
        if self._simple_lines:
            return row + 2
        if self._lines is None:
            self._lines = _record_lines(self.path, self.encoding, self.delimiter)
        return self._lines[row]

    def column(self, name: str) -> pa.ChunkedArray:
        return self.table.column(name)

    def _load(self) -> None:
        scan = _scan(self.path)
        self.sha256 = scan.sha256
        if not self._encoding_given and self.encoding == "utf-8" and not scan.utf8:
            self.encoding = _detect_encoding(self.path, self.path.read_bytes())
        header = list(self._header)
        if self.encoding != "utf-16" and scan.quotes % 2 == 1:
            # An odd number of quote characters: a quoted field never ends (a cut-off file).
            self._read_carefully(header)
            return
        bad_count = 0

        def on_invalid(row: pcsv.InvalidRow) -> str:
            nonlocal bad_count
            bad_count += 1
            return "skip"

        try:
            table = pcsv.read_csv(
                self.path,
                read_options=pcsv.ReadOptions(
                    encoding=_arrow_encoding(self.encoding), block_size=1 << 25
                ),
                parse_options=pcsv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=True,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    include_columns=[h for h in header if self._only is None or h in self._only],
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
            bad_count = 1
        if bad_count:
            self._read_carefully(header)
            return
        # Every line holds exactly one record (no blank lines, no quoted newlines): the line
        # of a row follows from its number, no second pass needed.
        records = table.num_rows + 1
        self._simple_lines = self.encoding != "utf-16" and scan.newlines in (
            records,
            records - 1,
        )
        rename = dict(zip(self._header, self._names, strict=True))
        self._table = table.rename_columns([rename[c] for c in table.column_names])

    def _read_carefully(self, header: list[str]) -> None:
        table, bad, lines = _read_carefully(
            self.path, self.path.read_bytes(), self.encoding, self.delimiter, header
        )
        self.bad_rows = bad
        self._lines = lines
        self._table = table.rename_columns(list(self._names))


@dataclass(frozen=True)
class _Scan:
    sha256: str
    quotes: int
    newlines: int
    utf8: bool


def _scan(path: Path) -> _Scan:
    """One streaming pass: hash, quote and newline counts, and whether it is valid UTF-8."""
    digest = hashlib.sha256()
    quotes = newlines = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 24):
            digest.update(chunk)
            quotes += chunk.count(b'"')
            newlines += chunk.count(b"\n")
            if utf8 and not chunk.isascii():
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return _Scan(digest.hexdigest(), quotes, newlines, utf8)


def read_csv(path: Path, *, delimiter: str | None = None, encoding: str | None = None) -> CsvFile:
    """Look at ``path`` as CSV, or raise ``InputError`` saying what it is instead.

    Only the start of the file is read here; the rows are read on first use of ``table``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a CSV file")
    with path.open("rb") as stream:
        head = stream.read(_SAMPLE)
        if not head.strip() and not _has_content(stream):
            raise InputError(
                f"{path.name}: the file is empty; expected a CSV export with a header row"
            )
    _refuse_non_csv(path, head)
    given = encoding is not None
    encoding = encoding or _guess_encoding(path, head)
    sample = _decode_sample(head, encoding)
    header_line = sample.lstrip("\ufeff").splitlines()[0] if sample.strip() else ""
    delimiter = delimiter or _detect_delimiter(sample)
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    _check_header(path, header)
    return CsvFile(path, encoding, delimiter, tuple(header), encoding_given=given)


def _has_content(stream: io.BufferedReader) -> bool:
    while chunk := stream.read(1 << 20):
        if chunk.strip():
            return True
    return False


def _guess_encoding(path: Path, head: bytes) -> str:
    """The encoding as the start of the file shows it; the full read checks the rest."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        return _detect_encoding(path, path.read_bytes())
    return "utf-8"


def _refuse_non_csv(path: Path, data: bytes) -> None:
    head = data[:8]
    if head.startswith(b"PK\x03\x04"):
        raise InputError(
            f"{path.name}: is a zip file or an Excel workbook (.xlsx), not CSV; "
            "unzip it, or in Excel use File > Save As > CSV UTF-8"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(f"{path.name}: is an old Excel workbook (.xls); save it as CSV UTF-8")
    if head.startswith(b"%PDF"):
        raise InputError(f"{path.name}: is a PDF, not a CSV export")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise InputError(f"{path.name}: is {what}, not a CSV export")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return
    if b"\x00" in data[:_SAMPLE]:
        raise InputError(
            f"{path.name}: looks like a binary file (it holds NUL bytes), not a CSV export"
        )


def _detect_encoding(path: Path, data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        if exc.end == len(data) and exc.reason == "unexpected end of data":
            raise InputError(
                f"{path.name}: line {line}: the file ends in the middle of a character; "
                "it looks cut off: export it again"
            ) from None
        if data.startswith(codecs.BOM_UTF8) or _UTF8_MARKS.search(data):
            # Reading it all as cp1252 would garble every UTF-8 character: refuse instead.
            raise InputError(
                f"{path.name}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8, but the "
                "rest of the file is (were rows pasted in from another file?); save the file "
                "as CSV UTF-8 and import it again"
            ) from None
        # Windows Excel saves "CSV" as cp1252; five bytes are unassigned there.
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            return "latin-1"
        return "cp1252"
    return "utf-8"


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding == "utf-8" else encoding


def _decode_sample(data: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    text = decoder.decode(data[:_SAMPLE])
    return text.lstrip("\ufeff")


def _detect_delimiter(sample: str) -> str:
    first = sample.splitlines()[0] if sample else ""
    try:
        return csv.Sniffer().sniff(sample[: 1 << 14], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: first.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _check_header(path: Path, header: list[str]) -> None:
    if not header or all(not h.strip() for h in header):
        raise InputError(f"{path.name}: line 1: the header row is empty")
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name.strip():
            raise InputError(f"{path.name}: line 1: column {position} of the header has no name")
        if name in seen:
            raise InputError(
                f"{path.name}: line 1: column {name!r} appears twice (columns {seen[name]} "
                f"and {position})"
            )
        seen[name] = position


def _needs_careful_read(data: bytes, encoding: str) -> bool:
    """An odd number of quote characters means a quoted field never ends: a cut-off file."""
    if encoding == "utf-16":
        return False
    return data.count(b'"') % 2 == 1


def _read_carefully(
    path: Path, data: bytes, encoding: str, delimiter: str, header: list[str]
) -> tuple[pa.Table, list[Reject], list[int]]:
    """The slow, exact reader: every record with its line, every problem with its place."""
    text = data.decode(encoding, errors="strict").lstrip("\ufeff")
    csv.field_size_limit(MAX_FIELD * 4 + 16)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns: list[list[str]] = [[] for _ in header]
    lines: list[int] = []
    bad: list[Reject] = []
    start = 1
    try:
        next(reader)
        start = reader.line_num + 1
        for record in reader:
            if record == [] or (len(record) == 1 and not record[0] and len(header) > 1):
                start = reader.line_num + 1
                continue
            if len(record) != len(header):
                bad.append(
                    Reject(
                        path.name,
                        start,
                        None,
                        delimiter.join(record)[:200],
                        f"row has {len(record)} fields, the header has {len(header)}"
                        + (" (was the file cut off?)" if len(record) < len(header) else ""),
                    )
                )
            else:
                for values, value in zip(columns, record, strict=True):
                    values.append(value)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        reason = str(exc)
        if "field larger than field limit" in reason:
            raise InputError(
                f"{path.name}: line {start}: a field is longer than {MAX_FIELD:,} characters; "
                "is this really a CSV export?"
            ) from exc
        if "unexpected end of data" in reason or "EOF" in reason:
            raise InputError(
                f"{path.name}: line {start}: the file ends inside a quoted field that starts "
                "here; it looks cut off: export it again"
            ) from exc
        raise InputError(f"{path.name}: line {start}: cannot read the CSV: {reason}") from exc
    table = pa.table(
        {name: pa.array(values, pa.string()) for name, values in zip(header, columns, strict=True)}
    )
    return table, bad, lines


def _record_lines(path: Path, encoding: str, delimiter: str) -> list[int]:
    """Line where each data record starts (skipping the header)."""
    text = path.read_bytes().decode(encoding, errors="replace").lstrip("\ufeff")
    csv.field_size_limit(MAX_FIELD * 4 + 16)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[int] = []
    next(reader, None)
    start = reader.line_num + 1
    for record in reader:
        if record:
            lines.append(start)
        start = reader.line_num + 1
    return lines
