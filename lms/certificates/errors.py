"""The certificates' domain errors: one class per problem code (lms.core.errors maps
them), and the wordings of the codes raised in several situations (a revoked or
superseded certificate asked for its PDF, its credential, or a reissue)."""

from __future__ import annotations

from lms.core.errors import Conflict, NotFound

REVOKED_NO_PDF = (
    "This certificate was revoked: its PDF is no longer available.",
    "该证书已被撤销，不再提供 PDF 下载。",
)
REVOKED_NO_CREDENTIAL = (
    "This certificate was revoked: it has no credential any more.",
    "该证书已被撤销，不再提供数字凭证。",
)
SUPERSEDED_DOWNLOAD_NEW = (
    "This certificate was replaced by a new one: download the new certificate.",
    "该证书已被新证书取代，请下载新证书。",
)
SUPERSEDED_USE_NEW_CREDENTIAL = (
    "This certificate was replaced by a new one: use the new certificate's credential.",
    "该证书已被新证书取代，请使用新证书的数字凭证。",
)
SUPERSEDED_ACT_ON_NEW = (
    "This certificate was already replaced; act on its replacement.",
    "该证书已被替换，请对新证书操作。",
)


class AlreadyIssued(Conflict):
    code = "already-issued"
    message_en = "The enrolment already has a valid certificate."
    message_zh = "该报名已有有效证书。"


class NotValid(Conflict):
    code = "certificate-not-valid"
    message_en = "Only a valid certificate can be revoked."
    message_zh = "只有有效的证书才能撤销。"


class NotRevoked(Conflict):
    code = "certificate-not-revoked"
    message_en = "Only a revoked certificate can be restored."
    message_zh = "只有已撤销的证书才能恢复。"


class CertificateRevoked(Conflict):
    code = "certificate-revoked"
    message_en, message_zh = "This certificate was revoked.", "该证书已被撤销。"


class CertificateSuperseded(Conflict):
    code = "certificate-superseded"
    message_en, message_zh = "This certificate was replaced by a new one.", "该证书已被新证书取代。"


class UnknownCertificate(NotFound):
    code = "certificate-not-found"
    message_en = "No certificate matches."
    message_zh = "未找到匹配的证书。"


class FontNotEmbedded(Conflict):
    code = "certificate-font-not-embedded"
    message_en = (
        "No embeddable CJK font is installed on the server: re-rendering would not fix the "
        "PDF. Install fonts-wqy-zenhei or set LMS_CERT_FONT, then restart."
    )
    message_zh = (
        "服务器未安装可嵌入的中文字体，重新生成无法修复该 PDF。"
        "请安装 fonts-wqy-zenhei 或设置 LMS_CERT_FONT 后重启。"
    )
