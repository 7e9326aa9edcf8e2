"""Reading uploaded files: size limits, types by content, and zip archives expanded safely.

A file that is not an image is not a reason to refuse a whole folder: it becomes one row
with an ``unsupported_type`` error. A zip that is broken, escapes its folder (zip-slip) or
expands far beyond its size (a zip bomb) is refused as a whole, before anything is queued.
"""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass
from io import BytesIO

from werkzeug.datastructures import FileStorage

from contracts.errors import ErrorCode
from contracts.uploads import FORMATS, escapes_folder, is_clutter, looks_like_image
from gateway.errors import ApiError
from gateway.settings import GatewaySettings

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
# Compression methods Python's zipfile unpacks.
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@dataclass
class Upload:
    """One file to read: its name as uploaded (a relative path), and its bytes or the error
    that means it will not be read."""

    name: str
    data: bytes | None
    error: dict[str, str] | None = None


def kind_of(data: bytes) -> str | None:
    """"image", "zip" or None, from the leading bytes."""
    if looks_like_image(data[:16]):
        return "image"
    if data[:4] in ZIP_SIGNATURES:
        return "zip"
    return None


def read_upload(storage: FileStorage, limit: int) -> bytes:
    """The bytes of one multipart file; 413 when it is over ``limit``."""
    data = storage.stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(ErrorCode.FILE_TOO_LARGE, f"{storage.filename!r} is larger than {limit} bytes")
    return data


# C0 and C1 control characters and DEL: a name holding them (NUL, CR, LF, tab, escape
# sequences) would garble logs, terminals and CSV files, so each becomes U+FFFD.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def clean_name(name: str | None, fallback: str) -> str:
    """A folder-relative path with forward slashes (browsers and zips send either kind), its
    control characters replaced by U+FFFD."""
    name = _CONTROLS.sub("\ufffd", name or "").replace("\\", "/").lstrip("/")
    while name.startswith("./"):
        name = name[2:]
    return name or fallback


def collect(storages: list[FileStorage], settings: GatewaySettings) -> list[Upload]:
    """Every file of a batch request, with zips expanded, in upload (and archive) order."""
    uploads: list[Upload] = []
    used = 0
    for position, storage in enumerate(storages):
        name = clean_name(storage.filename, f"file-{position}")
        # A zip of a folder may be far larger than one scan: the request limit bounds it.
        data = read_upload(storage, settings.max_request_bytes)
        if kind_of(data) == "zip":
            new = expand_zip(name, data, settings, budget=settings.max_request_bytes - used)
        elif len(data) > settings.max_file_bytes:
            raise ApiError(ErrorCode.FILE_TOO_LARGE, f"{name!r} is larger than {settings.max_file_bytes} bytes")
        else:
            new = [_typed(name, data)]
        used += sum(len(upload.data or b"") for upload in new)
        uploads += new
        if len(uploads) > settings.max_files:
            raise ApiError(ErrorCode.TOO_MANY_FILES, f"more than {settings.max_files} files; the limit is "
                           f"{settings.max_files} per batch")
    return uploads


def _typed(name: str, data: bytes) -> Upload:
    kind = kind_of(data)
    if kind == "image":
        return Upload(name, data)
    if kind == "zip":
        return Upload(name, None, _unsupported("archives inside archives are not expanded"))
    return Upload(name, None, _unsupported(not_an_image(data)))


def not_an_image(data: bytes) -> str:
    """Why ``data`` is refused as an image, naming what it starts with."""
    what = "is empty" if not data else f"starts with {data[:8]!r}"
    return f"not an image ({FORMATS}): the content {what}"


def _unsupported(message: str) -> dict[str, str]:
    return {"code": "unsupported_type", "message": message}


def expand_zip(name: str, data: bytes, settings: GatewaySettings, budget: int) -> list[Upload]:
    """The files of a zip archive, with their paths inside it; refuses unsafe archives.

    ``budget`` is what the whole archive may expand to (what is left of the request limit).
    What every entry declares is checked before anything is unpacked, and what is actually
    read is counted against the same limits as it is read.
    """
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        infos = archive.infolist()
        entries = [info for info in infos if not info.is_dir() and not is_clutter(info.filename)]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ApiError(ErrorCode.INVALID_ZIP, f"{name!r} is not a readable zip archive: {exc}") from None
    _check_overlaps(name, data, infos)
    _check_zip(name, entries, settings, budget, len(data))
    uploads = []
    expanded = 0
    for info in entries:
        entry_name = clean_name(info.filename, info.filename)
        if info.flag_bits & 0x1:
            uploads.append(Upload(entry_name, None, _unsupported("the entry is encrypted")))
            continue
        if info.compress_type not in _METHODS:
            uploads.append(Upload(entry_name, None, _unsupported(
                f"the entry uses compression method {info.compress_type}, which cannot be unpacked")))
            continue
        try:
            with archive.open(info) as handle:
                content = handle.read(settings.max_file_bytes + 1)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise ApiError(ErrorCode.INVALID_ZIP, f"{name!r}: entry {info.filename!r} is damaged: {exc}") from None
        if len(content) > settings.max_file_bytes:
            raise ApiError(ErrorCode.FILE_TOO_LARGE, f"{name!r}: {info.filename!r} expands beyond "
                           f"{settings.max_file_bytes} bytes")
        expanded += len(content)  # the bytes read, whatever the headers said
        _check_expansion(name, expanded, len(data), settings, budget)
        uploads.append(_typed(entry_name, content))
    return uploads


# A local file header: signature, versions, flags, method, time, date, CRC, sizes, then the
# lengths of the name and the extra field that sit between it and the entry's data.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")


def _check_overlaps(name: str, data: bytes, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse entries whose headers or data overlap (or share one offset): the trick of zip
    bombs that make many entries out of the same compressed bytes, which no archiver writes."""
    spans = []
    for info in infos:
        start = info.header_offset
        header = data[start : start + _LOCAL_HEADER.size]
        if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise ApiError(ErrorCode.INVALID_ZIP, f"{name!r}: entry {info.filename!r} has no local header at "
                           f"offset {start}")
        *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        spans.append((start, start + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size,
                      info.filename))
    spans.sort()
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            raise ApiError(ErrorCode.ZIP_BOMB, f"{name!r}: entries {first!r} and {second!r} overlap (they share "
                           "compressed data, as zip bombs do); the archive was refused")


def _check_expansion(name: str, expanded: int, packed: int, settings: GatewaySettings, budget: int) -> None:
    """The archive's entries, together, expand within the request's budget and ratio."""
    if expanded > budget:
        raise ApiError(ErrorCode.ZIP_BOMB, f"{name!r} expands to more than the {settings.max_request_bytes} "
                       "bytes allowed per request")
    ratio = expanded / max(packed, 1)
    if expanded > 1_000_000 and ratio > settings.max_zip_ratio:
        raise ApiError(ErrorCode.ZIP_BOMB, f"{name!r} expands {ratio:.0f} times its size; the limit is "
                       f"{settings.max_zip_ratio} (a zip bomb?)")


def _check_zip(name: str, entries: list[zipfile.ZipInfo], settings: GatewaySettings, budget: int,
               packed: int) -> None:
    if len(entries) > settings.max_files:
        raise ApiError(ErrorCode.TOO_MANY_FILES,
                       f"{name!r} holds {len(entries)} files; the limit is {settings.max_files}")
    for info in entries:
        if escapes_folder(info.filename):
            raise ApiError(ErrorCode.UNSAFE_ZIP, f"{name!r} holds {info.filename!r}, a path outside the archive's "
                           "folder (zip-slip); the archive was refused")
        if info.file_size > settings.max_file_bytes:
            raise ApiError(ErrorCode.FILE_TOO_LARGE, f"{name!r}: {info.filename!r} expands to {info.file_size} bytes; "
                           f"the limit is {settings.max_file_bytes}")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1_000_000 and ratio > settings.max_zip_ratio:
            raise ApiError(ErrorCode.ZIP_BOMB, f"{name!r}: {info.filename!r} expands {ratio:.0f} times; the limit is "
                           f"{settings.max_zip_ratio} (a zip bomb?)")
    # Every entry counts, whatever its size: many small ones add up too.
    _check_expansion(name, sum(info.file_size for info in entries), packed, settings, budget)
