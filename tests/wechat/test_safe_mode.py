"""The encrypted ("safe") mode, checked against the official examples of WeChat's message
encryption (消息加解密说明) — never only against XML the code under test encrypted itself.

Sources of the vectors (copied verbatim):

* OFFICIAL_SAMPLE: the Python sample ``Sample.py`` of WeChat's official WXBizMsgCrypt download
  (token "spamtest", AppID "wx2c2769f8efd9abc2", timestamp "1409735669", nonce "1320562132",
  msg_signature "5d197aaf…"): an encrypted text message and the plaintext it decrypts to.
  (wechatpy's own tests/test_crypto.py only carries WeChat Work vectors; these are the
  official account's.)
* PAMTEST: the official Java sample's ``WXBizMsgCryptTest`` (token "pamtest", EncodingAESKey
  "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", AppID "wxb11529c136998cb6", timestamp
  "1409304348", nonce "xxxxxx", random prefix "aaaabbbbccccdddd"): a reply and its exact
  ciphertext. The envelope's msg_signature was computed once outside the code under test:
  printf '%s' "1409304348${CIPHER}pamtestxxxxxx" | sha1sum  (the four values sorted).
"""

from __future__ import annotations

import pytest
import xmltodict
from django.utils import translation
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from rightscare.wechat import services
from rightscare.wechat.models import InboundMessage, MessageKind
from tests.wechat.conftest import SIGNATURE, deliver

pytestmark = pytest.mark.django_db

ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

# --- the official Python sample -------------------------------------------------------------------------
SAMPLE_TOKEN = "spamtest"
SAMPLE_APP_ID = "wx2c2769f8efd9abc2"
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content>"
    "<MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1Q"
    "LvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbg"
    "U6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1D"
    "lD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>"
)
SAMPLE_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n</xml>"
)

# --- the official Java sample ("pamtest") -------------------------------------------------------------------
PAMTEST_TOKEN = "pamtest"
PAMTEST_APP_ID = "wxb11529c136998cb6"
PAMTEST_TIMESTAMP = "1409304348"
PAMTEST_NONCE = "xxxxxx"
PAMTEST_RANDOM = "aaaabbbbccccdddd"
PAMTEST_REPLY = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName>"
    "<CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxq"
    "dUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]>"
    "</Description></Video></xml>"
)
PAMTEST_CIPHER = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5lo"
    "LgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77b"
    "ZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKh"
    "P+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA"
    "5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)
#: printf '%s' "1409304348${PAMTEST_CIPHER}pamtestxxxxxx" | sha1sum
PAMTEST_MSG_SIGNATURE = "ea88b765074e41eb8c7a75b449db34fa2fd560d5"


@pytest.fixture
def sample_account(settings):
    settings.WECHAT_TOKEN = SAMPLE_TOKEN
    settings.WECHAT_ENCODING_AES_KEY = ENCODING_AES_KEY
    settings.WECHAT_APP_ID = SAMPLE_APP_ID


@pytest.fixture
def pamtest_account(settings):
    settings.WECHAT_TOKEN = PAMTEST_TOKEN
    settings.WECHAT_ENCODING_AES_KEY = ENCODING_AES_KEY
    settings.WECHAT_APP_ID = PAMTEST_APP_ID


def sample_query(**overrides: str) -> dict[str, str]:
    return {
        "signature": "",
        "timestamp": SAMPLE_TIMESTAMP,
        "nonce": SAMPLE_NONCE,
        "encrypt_type": "aes",
        "msg_signature": SAMPLE_MSG_SIGNATURE,
        **overrides,
    }


def test_the_official_sample_decrypts_to_its_documented_plaintext(sample_account):
    query = services.CallbackQuery(**sample_query())

    assert services.open_message(body=SAMPLE_BODY.encode(), query=query) == SAMPLE_PLAINTEXT


def test_an_encrypted_text_message_is_stored_and_answered_with_an_encrypted_reply(client, sample_account, personas):
    # Compatible mode also sends the plaintext beside <Encrypt>: only the signed, encrypted part counts.
    body = SAMPLE_BODY.replace("<Content><![CDATA[abcdteT]]></Content>", "<Content><![CDATA[forged outside the signature]]></Content>")

    response = deliver(client, body, **sample_query())

    assert response.status_code == 200
    envelope = xmltodict.parse(response.content)["xml"]
    assert envelope["TimeStamp"] == SAMPLE_TIMESTAMP and envelope["Nonce"] == SAMPLE_NONCE
    # Decrypt the reply as WeChat would, with the account's own key (the check includes its msg_signature).
    wrapped = f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    plain = WeChatCrypto(SAMPLE_TOKEN, ENCODING_AES_KEY, SAMPLE_APP_ID).decrypt_message(
        wrapped, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    reply = xmltodict.parse(plain)["xml"]
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == ("oyORnuP8q7ou2gfYjqLzSIWZf0rs", "gh_10f6c3c3ac5a", "text")
    assert "/submit/" in reply["Content"] and "查询" in reply["Content"]
    with translation.override("zh-hans"):
        assert reply["Content"].endswith("如您正面临危险，请立即拨打110。")
    [message] = InboundMessage.objects.all()
    assert (message.msg_id, message.kind, message.content, message.sender, message.safe_mode) == (
        "6054768590064713728",
        MessageKind.TEXT,
        "abcdteT",
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        True,
    )

    # WeChat's retry of the same message: handled once, the same reply (re-encrypted).
    again = xmltodict.parse(deliver(client, body, **sample_query()).content)["xml"]
    wrapped = f"<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[{again['Encrypt']}]]></Encrypt></xml>"
    replayed = WeChatCrypto(SAMPLE_TOKEN, ENCODING_AES_KEY, SAMPLE_APP_ID).decrypt_message(wrapped, again["MsgSignature"], again["TimeStamp"], again["Nonce"])
    assert xmltodict.parse(replayed)["xml"]["Content"] == reply["Content"]
    assert InboundMessage.objects.get().deliveries == 2


@pytest.mark.parametrize(
    "query",
    [
        sample_query(msg_signature="0" * 40),  # wrong message signature
        sample_query(nonce="1320562133"),  # the signature of another nonce
        sample_query(encrypt_type="", msg_signature=""),  # plain in safe mode
    ],
)
def test_a_bad_message_signature_is_refused_and_nothing_stored(client, sample_account, query):
    assert deliver(client, SAMPLE_BODY, **query).status_code == 403
    assert InboundMessage.objects.count() == 0


def test_a_plain_call_is_refused_in_safe_mode_even_with_a_valid_plain_signature(client, pamtest_account):
    # SIGNATURE signs ("pamtest", "1409304348", "xxxxxx") correctly, but safe mode takes only encrypted messages.
    from tests.wechat.test_callback import TEXT

    assert deliver(client, TEXT, signature=SIGNATURE).status_code == 403
    assert InboundMessage.objects.count() == 0


def test_a_message_for_another_app_id_is_refused(client, sample_account, settings):
    settings.WECHAT_APP_ID = PAMTEST_APP_ID
    assert deliver(client, SAMPLE_BODY, **sample_query()).status_code == 403
    assert InboundMessage.objects.count() == 0


def test_replies_are_encrypted_exactly_as_the_official_java_sample(pamtest_account, monkeypatch):
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: PAMTEST_RANDOM)
    query = services.CallbackQuery(timestamp=PAMTEST_TIMESTAMP, nonce=PAMTEST_NONCE)

    envelope = xmltodict.parse(services.seal_reply(reply_xml=PAMTEST_REPLY, query=query))["xml"]

    assert envelope["Encrypt"] == PAMTEST_CIPHER
    assert envelope["MsgSignature"] == PAMTEST_MSG_SIGNATURE
    assert (envelope["TimeStamp"], envelope["Nonce"]) == (PAMTEST_TIMESTAMP, PAMTEST_NONCE)


def test_the_official_java_samples_ciphertext_is_read_as_a_message(client, pamtest_account):
    # The sample's plaintext is a video message from gh_7f083739789a: a polite request for text.
    body = f"<xml><ToUserName><![CDATA[toUser]]></ToUserName><Encrypt><![CDATA[{PAMTEST_CIPHER}]]></Encrypt></xml>"

    response = deliver(client, body, timestamp=PAMTEST_TIMESTAMP, nonce=PAMTEST_NONCE, encrypt_type="aes", msg_signature=PAMTEST_MSG_SIGNATURE)

    assert response.status_code == 200
    [message] = InboundMessage.objects.all()
    assert (message.msg_type, message.kind, message.sender, message.create_time, message.content) == (
        "video",
        MessageKind.OTHER,
        "gh_7f083739789a",
        1407743423,
        "",
    )
    envelope = xmltodict.parse(response.content)["xml"]
    wrapped = f"<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    plain = WeChatCrypto(PAMTEST_TOKEN, ENCODING_AES_KEY, PAMTEST_APP_ID).decrypt_message(
        wrapped, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    assert xmltodict.parse(plain)["xml"]["ToUserName"] == "gh_7f083739789a"
