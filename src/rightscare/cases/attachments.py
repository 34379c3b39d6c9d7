"""Files of a case: what may be uploaded, how it is cleaned, stored and read back.

* Only JPEG, PNG, PDF and Word (.docx) files of at most ``MAX_ATTACHMENT_BYTES``;
  the type is decided from the file's content (its magic bytes, and for images
  Pillow decoding it), never from its name or the browser's word.
* Photos are re-encoded without their metadata: EXIF (and with it the GPS position
  where a photo of injuries was taken, which may be a shelter) never reaches storage.
* Files of sensitive categories (domestic violence, child protection) are encrypted at
  rest with AES-GCM under the field key (``core.crypto.encrypt_bytes``).
* Files are stored in the default storage under random names outside any public
  URL; they are served only by the permission-checked, audited view.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from rightscare.cases.models import Attachment
from rightscare.core import crypto

#: The largest file accepted (10 MB).
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

#: A photo larger than this many pixels is refused (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: The content types accepted, with the extension a downloaded file gets.
ALLOWED_TYPES: dict[str, str] = {JPEG: ".jpg", PNG: ".png", PDF: ".pdf", DOCX: ".docx"}

STORAGE_PREFIX = "case-attachments"


@dataclass(frozen=True)
class CleanFile:
    """An accepted upload: its safe name, real content type and cleaned bytes."""

    name: str
    content_type: str
    data: bytes


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are (of the accepted ones), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            return None
        if "[Content_Types].xml" in names and "word/document.xml" in names:
            return DOCX
    return None


def _strip_image(data: bytes, content_type: str) -> bytes:
    """Decode the photo and encode it again without EXIF, GPS, comments or text chunks."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ValidationError({"file": [_("The picture is too large.")]})
            # Turn the picture upright first: the orientation tag goes with the rest of EXIF.
            upright = ImageOps.exif_transpose(image)
            output = io.BytesIO()
            if content_type == JPEG:
                if upright.mode not in ("RGB", "L"):
                    upright = upright.convert("RGB")
                upright.save(output, format="JPEG", quality=90, optimize=True)
            else:
                clean = Image.new(upright.mode, upright.size)
                clean.paste(upright)
                if "transparency" in upright.info:
                    clean.info["transparency"] = upright.info["transparency"]
                clean.save(output, format="PNG", optimize=True)
            return output.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValidationError({"file": [_("The picture cannot be read; it may be damaged.")]}) from error


def safe_name(name: str, content_type: str) -> str:
    """A display name without a path, ending in the extension of its real type."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = "".join(ch for ch in stem if ch.isprintable() and ch not in '<>:"|?*')[:150] or "attachment"
    return stem + ALLOWED_TYPES[content_type]


def clean_upload(*, name: str, data: bytes) -> CleanFile:
    """Check an upload's size and real type and strip a photo's metadata.

    Raises ``ValidationError`` (on the field ``file``) for an empty, oversize or
    disallowed file; nothing is stored.
    """
    if not data:
        raise ValidationError({"file": [_("The file is empty.")]})
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValidationError({"file": [_("The file is larger than 10 MB.")]})
    content_type = sniff(data)
    if content_type is None:
        raise ValidationError({"file": [_("Only JPEG or PNG pictures, PDF files and Word (.docx) documents can be attached.")]})
    if content_type in (JPEG, PNG):
        data = _strip_image(data, content_type)
    return CleanFile(name=safe_name(name, content_type), content_type=content_type, data=data)


def new_storage_name() -> str:
    """A random name under the attachments folder, with no hint of the case or the file."""
    return f"{STORAGE_PREFIX}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


def _context(storage_name: str) -> str:
    # The ciphertext is bound to its storage name: a file copied over another one will not decrypt.
    return f"cases.attachment:{storage_name}"


def store(*, storage_name: str, data: bytes, encrypt: bool) -> str:
    """Write the bytes (encrypted when asked) and return the name the storage gave them."""
    payload = crypto.encrypt_bytes(data, context=_context(storage_name)) if encrypt else data
    saved = default_storage.save(storage_name, ContentFile(payload))
    if saved != storage_name:
        # Names are random: a collision means something is badly wrong, never overwrite.
        default_storage.delete(saved)
        raise RuntimeError("attachment storage name collision")
    return saved


def discard(storage_name: str) -> None:
    """Remove a stored file whose record was not saved."""
    if default_storage.exists(storage_name):
        default_storage.delete(storage_name)


def read(attachment: Attachment) -> bytes:
    """The attachment's original (cleaned) bytes, decrypted when stored encrypted."""
    with default_storage.open(attachment.storage_name, "rb") as handle:
        payload = handle.read()
    if attachment.encrypted:
        return crypto.decrypt_bytes(payload, context=_context(attachment.storage_name))
    return bytes(payload)
