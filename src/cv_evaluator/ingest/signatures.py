"""Magic numbers of formats we refuse outright: archives, executables, images and media.

Where a magic number is short or printable, a second fixed field (a version byte, a NUL, the
RIFF container tag) is checked too, so that ordinary text starting with the same letters is not
mistaken for a binary format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    ARCHIVE = "archive"
    EXECUTABLE = "executable"
    IMAGE = "image"
    MEDIA = "media"
    DOCUMENT = "document"


REASONS = {
    Family.ARCHIVE: "archives are not accepted; upload the PDF, DOCX, text or Markdown file itself",
    Family.EXECUTABLE: "executables and scripts are never accepted",
    Family.IMAGE: "images hold no extractable text; upload a PDF, DOCX, text or Markdown file",
    Family.MEDIA: "audio and video files are not accepted",
    Family.DOCUMENT: "this document format is not supported; convert it to PDF or DOCX",
}


@dataclass(frozen=True, slots=True)
class Detection:
    description: str
    family: Family

    @property
    def reason(self) -> str:
        return REASONS[self.family]


@dataclass(frozen=True, slots=True)
class _Signature:
    detection: Detection
    parts: tuple[tuple[int, bytes], ...]
    also: Callable[[bytes], bool] | None = None

    def matches(self, data: bytes) -> bool:
        if not all(data[offset : offset + len(magic)] == magic for offset, magic in self.parts):
            return False
        return self.also is None or self.also(data)


def _sig(description: str, family: Family, *parts: tuple[int, bytes]) -> _Signature:
    return _Signature(Detection(description, family), parts)


def _binary_header(data: bytes) -> bool:
    # Binary headers are full of NULs and small integers; text never contains them.
    return any(byte < 0x09 for byte in data[:64])


def _at_start(magic: bytes) -> tuple[int, bytes]:
    return (0, magic)


_RIFF = _at_start(b"RIFF")
# ISO base media files start with a big-endian box size, whose first byte is zero in practice.
_BOX_SIZE = _at_start(b"\x00")

_SIGNATURES: tuple[_Signature, ...] = (
    _sig("gzip archive", Family.ARCHIVE, _at_start(b"\x1f\x8b")),
    _sig("7z archive", Family.ARCHIVE, _at_start(b"7z\xbc\xaf\x27\x1c")),
    _sig("rar archive", Family.ARCHIVE, _at_start(b"Rar!\x1a\x07")),
    *(_sig("bzip2 archive", Family.ARCHIVE, _at_start(b"BZh%d" % level)) for level in range(1, 10)),
    _sig("xz archive", Family.ARCHIVE, _at_start(b"\xfd7zXZ\x00")),
    _sig("zstd archive", Family.ARCHIVE, _at_start(b"\x28\xb5\x2f\xfd")),
    _sig("lz4 archive", Family.ARCHIVE, _at_start(b"\x04\x22\x4d\x18")),
    _sig("cab archive", Family.ARCHIVE, _at_start(b"MSCF\x00\x00\x00\x00")),
    _sig("tar archive", Family.ARCHIVE, (257, b"ustar\x00")),
    _sig("tar archive", Family.ARCHIVE, (257, b"ustar  \x00")),
    _sig("ELF executable", Family.EXECUTABLE, _at_start(b"\x7fELF")),
    _Signature(
        Detection("Windows PE/MZ executable", Family.EXECUTABLE),
        (_at_start(b"MZ"),),
        _binary_header,
    ),
    _sig("Mach-O executable", Family.EXECUTABLE, _at_start(b"\xfe\xed\xfa\xce")),
    _sig("Mach-O executable", Family.EXECUTABLE, _at_start(b"\xfe\xed\xfa\xcf")),
    _sig("Mach-O executable", Family.EXECUTABLE, _at_start(b"\xce\xfa\xed\xfe")),
    _sig("Mach-O executable", Family.EXECUTABLE, _at_start(b"\xcf\xfa\xed\xfe")),
    # Java class files and Mach-O universal binaries share this magic; both are code.
    _sig(
        "Java class or Mach-O universal binary", Family.EXECUTABLE, _at_start(b"\xca\xfe\xba\xbe")
    ),
    _sig("script with a shebang line", Family.EXECUTABLE, _at_start(b"#!")),
    _sig("WebAssembly module", Family.EXECUTABLE, _at_start(b"\x00asm")),
    _sig("Android DEX bytecode", Family.EXECUTABLE, _at_start(b"dex\n")),
    _sig("PNG image", Family.IMAGE, _at_start(b"\x89PNG\r\n\x1a\n")),
    _sig("JPEG image", Family.IMAGE, _at_start(b"\xff\xd8\xff")),
    _sig("GIF image", Family.IMAGE, _at_start(b"GIF87a")),
    _sig("GIF image", Family.IMAGE, _at_start(b"GIF89a")),
    _sig("WebP image", Family.IMAGE, _RIFF, (8, b"WEBP")),
    _sig("TIFF image", Family.IMAGE, _at_start(b"II*\x00")),
    _sig("TIFF image", Family.IMAGE, _at_start(b"MM\x00*")),
    _sig("ICO image", Family.IMAGE, _at_start(b"\x00\x00\x01\x00")),
    _sig("JPEG XL image", Family.IMAGE, _at_start(b"\xff\x0a")),
    _sig("Photoshop image", Family.IMAGE, _at_start(b"8BPS\x00\x01")),
    _sig("HEIC image", Family.IMAGE, _BOX_SIZE, (4, b"ftypheic")),
    _sig("HEIC image", Family.IMAGE, _BOX_SIZE, (4, b"ftypheix")),
    _sig("HEIF image", Family.IMAGE, _BOX_SIZE, (4, b"ftypmif1")),
    _sig("AVIF image", Family.IMAGE, _BOX_SIZE, (4, b"ftypavif")),
    _sig("MP4/QuickTime media", Family.MEDIA, _BOX_SIZE, (4, b"ftyp")),
    *(
        _sig("MP3 audio", Family.MEDIA, _at_start(b"ID3" + bytes([version])))
        for version in (2, 3, 4)
    ),
    _sig("Ogg media", Family.MEDIA, _at_start(b"OggS\x00")),
    _Signature(Detection("FLAC audio", Family.MEDIA), (_at_start(b"fLaC"),), _binary_header),
    _sig("WAV audio", Family.MEDIA, _RIFF, (8, b"WAVE")),
    _sig("AVI video", Family.MEDIA, _RIFF, (8, b"AVI ")),
    _sig("Matroska/WebM video", Family.MEDIA, _at_start(b"\x1a\x45\xdf\xa3")),
    _sig(
        "legacy Office (OLE2) document",
        Family.DOCUMENT,
        _at_start(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    ),
    _sig("RTF document", Family.DOCUMENT, _at_start(b"{\\rtf")),
    # "BM" alone also starts ordinary words; the zeroed reserved header field makes it a bitmap.
    _sig("BMP image", Family.IMAGE, _at_start(b"BM"), (6, b"\x00\x00\x00\x00")),
)


def detect_refused(data: bytes) -> Detection | None:
    """The refused format that these bytes start with, if any."""
    for signature in _SIGNATURES:
        if signature.matches(data):
            return signature.detection
    return None
