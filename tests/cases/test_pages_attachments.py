"""Attachments: type and size checks, photo metadata stripped, sensitive files encrypted at rest,
served only through the permission-checked view, every read audited."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.cases import attachments
from rightscare.cases.models import Attachment, CaseEvent, EventKind
from tests.cases.pages import as_user, dispatch_on_suggestion, key, register_cai, register_zhao


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}}}
    return root


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 10, 10))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (22.0, 43.0, 10.0), 3: "E", 4: (114.0, 20.0, 5.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    return data


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def upload(client, case, name: str, data: bytes, content_type: str = "application/octet-stream"):
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post(reverse("attachment_upload", args=[case.pk]), {"idempotency_key": key(), "file": file})


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_photo_is_stripped_of_exif_and_gps(client, demo_org, media):
    zhao = register_zhao(demo_org)
    as_user(client, demo_org["city.dispatcher"])
    response = upload(client, zhao, "C:\\手机\\伤情照片.JPG", photo_with_gps(), "image/jpeg")
    assert response.status_code == 302
    attachment = Attachment.objects.get(case=zhao)
    assert (attachment.name, attachment.content_type, attachment.encrypted) == ("伤情照片.jpg", "image/jpeg", False)
    [stored] = stored_files(media)
    raw = stored.read_bytes()
    assert stored.name == attachment.storage_name.rsplit("/", 1)[-1]
    assert "伤情" not in attachment.storage_name and not attachment.storage_name.endswith(".jpg")
    assert raw.startswith(b"\xff\xd8\xff")
    reopened = Image.open(io.BytesIO(raw))
    assert dict(reopened.getexif()) == {}
    assert b"Exif" not in raw and b"PhoneMaker" not in raw
    assert reopened.size == (64, 48)
    assert CaseEvent.objects.filter(case=zhao, kind=EventKind.ATTACHMENT).count() == 1
    assert AuditEntry.objects.filter(event="cases.add_attachment", object_id=str(attachment.pk)).count() == 1


def test_sensitive_file_is_encrypted_at_rest_and_reads_are_audited(client, demo_org, media):
    cai = register_cai(demo_org)
    dispatch_on_suggestion(cai, demo_org["longhua.dispatcher"], legal_basis="statutory")
    as_user(client, demo_org["longhua.police"])
    original = photo_with_gps()
    assert upload(client, cai, "injury.jpg", original, "image/jpeg").status_code == 302
    attachment = Attachment.objects.get(case=cai)
    assert attachment.encrypted
    [stored] = stored_files(media)
    raw = stored.read_bytes()
    assert not raw.startswith(b"\xff\xd8") and b"JFIF" not in raw
    plain = attachments.read(attachment)
    assert plain.startswith(b"\xff\xd8\xff") and dict(Image.open(io.BytesIO(plain)).getexif()) == {}

    as_user(client, demo_org["longhua.dispatcher"])
    response = client.get(reverse("attachment_download", args=[cai.pk, attachment.pk]))
    assert response.status_code == 200
    assert response.content == plain
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith('attachment; filename="injury.jpg"')
    assert response["X-Content-Type-Options"] == "nosniff"
    reads = AuditEntry.objects.filter(action=AuditAction.READ, object_type="cases.attachment", object_id=str(attachment.pk))
    assert list(reads.values_list("actor_id", flat=True)) == [demo_org["longhua.dispatcher"].pk]

    # A sibling district and a department it was not sent to: 404, and nothing is read or audited.
    for username in ("guangming.dispatcher", "pingshan.dispatcher", "guangming.police"):
        as_user(client, demo_org[username])
        assert client.get(reverse("attachment_download", args=[cai.pk, attachment.pk])).status_code == 404, username
    assert reads.count() == 1


def test_bad_files_are_refused_and_nothing_is_saved(client, demo_org, media, settings):
    zhao = register_zhao(demo_org)
    as_user(client, demo_org["city.dispatcher"])
    oversize = b"%PDF-1.7\n" + b"0" * (attachments.MAX_ATTACHMENT_BYTES + 1)
    for name, data in (
        ("big.pdf", oversize),
        ("photo.jpg", b"<html><script>alert(1)</script></html>"),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100),
        ("broken.jpg", b"\xff\xd8\xff\xe0" + b"not really a jpeg"),
        ("fake.docx", b"PK\x03\x04 not a zip"),
        ("empty.pdf", b""),
    ):
        response = upload(client, zhao, name, data)
        assert response.status_code == 422, name
        assert response.context["form"].errors["file"], name
    assert not Attachment.objects.exists()
    assert stored_files(media) == []
    assert not CaseEvent.objects.filter(kind=EventKind.ATTACHMENT).exists()
    # The accepted types pass, whatever their name says.
    assert upload(client, zhao, "letter", docx()).status_code == 302
    assert upload(client, zhao, "scan.png", b"%PDF-1.4\n%%EOF\n").status_code == 302
    assert sorted(Attachment.objects.values_list("name", "content_type")) == [
        ("letter.docx", attachments.DOCX),
        ("scan.pdf", attachments.PDF),
    ]


def test_who_may_attach(client, demo_org):
    zhao = register_zhao(demo_org)
    # The city supervisor sees the case but works on nothing: 403; a sibling district: 404.
    as_user(client, demo_org["city.supervisor"])
    assert upload(client, zhao, "a.pdf", b"%PDF-1.4\n").status_code == 403
    as_user(client, demo_org["guangming.dispatcher"])
    assert upload(client, zhao, "a.pdf", b"%PDF-1.4\n").status_code == 404
    assert not Attachment.objects.exists()
