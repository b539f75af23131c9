"""The spreadsheet reader shared by the user and roster imports (lms.core.tabular)."""

import io
import zipfile
from datetime import date

import openpyxl
import pytest
from werkzeug.datastructures import FileStorage

from lms.accounts import people
from lms.accounts.models import User
from lms.core import bulk, tabular
from lms.core.errors import Invalid


def xlsx(rows) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def errors_of(excinfo) -> list[dict]:
    return excinfo.value.errors


def table(text: str, encoding="utf-8") -> tabular.Table:
    return people.read_people(text.encode(encoding))


# --- detection and decoding ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_csv_encodings_are_decoded(encoding):
    result = table("邮箱,姓名\nli@x.cn,李明\n", encoding)
    assert result.rows == [tabular.RowData(2, {"email": "li@x.cn", "full_name": "李明"})]


def test_gb18030_is_tried_only_when_utf8_fails():
    # "李明" in GBK is not valid UTF-8; the same text in UTF-8 must not be read as GB18030.
    assert tabular.decode_text("李明".encode()) == "李明"
    assert tabular.decode_text("李明".encode("gb18030")) == "李明"


def test_bytes_that_are_neither_utf8_nor_gb18030_are_refused():
    with pytest.raises(Invalid) as excinfo:
        people.read_people(b"email,full_name\n\xff\xff,x\n")
    assert "GB18030" in errors_of(excinfo)[0]["message"]


@pytest.mark.parametrize(
    "content,words",
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, ".xls"),
        (b"%PDF-1.4\n", "PDF"),
        (b"email,full_name\n\x00\x01\x02\x03,x\n", "not a CSV"),
        (b"", "empty"),
        (b"\xef\xbb\xbf \r\n\r\n", "empty"),
    ],
)
def test_non_spreadsheets_are_refused_as_file_errors(content, words):
    with pytest.raises(Invalid) as excinfo:
        people.read_people(content)
    [error] = errors_of(excinfo)
    assert (error["row"], error["field"]) == (None, "file")
    assert words in error["message"]
    assert excinfo.value.message_zh != excinfo.value.message_en


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "email,full_name\n")
    with pytest.raises(Invalid) as excinfo:
        people.read_people(buffer.getvalue())
    assert "XLSX" in errors_of(excinfo)[0]["message"]


def test_a_workbook_that_unpacks_too_large_is_refused(monkeypatch):
    monkeypatch.setattr(tabular, "MAX_XLSX_UNPACKED", 100)
    with pytest.raises(Invalid) as excinfo:
        people.read_people(xlsx([["email", "full_name"], ["a@x.cn", "甲"]]))
    assert "too large" in errors_of(excinfo)[0]["message"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_sniffed(delimiter):
    text = delimiter.join(["email", "full_name", "institution"]) + "\n"
    text += delimiter.join(["a@x.cn", '"李, 明"', "某校"]) + "\n"
    assert table(text).rows[0].values["full_name"] == "李, 明"


def test_unsniffable_text_falls_back_to_comma():
    assert tabular.sniff_delimiter("just one line without delimiters") == ","


def test_file_storage_is_accepted():
    storage = FileStorage(io.BytesIO("email,full_name\na@x.cn,甲\n".encode()), "t.csv")
    assert len(people.read_people(storage).rows) == 1


def test_quoted_multiline_cell_keeps_row_numbers_of_records():
    result = table('email,full_name,department\na@x.cn,甲,"第一行\n第二行"\nb@x.cn,乙,\n')
    assert [r.number for r in result.rows] == [2, 3]
    assert result.rows[0].values["department"] == "第一行\n第二行"


# --- headers ---------------------------------------------------------------------------------


def test_chinese_and_variant_headers_map_to_columns():
    header = "电子邮箱,姓名,英文姓名,工作单位,部门,职称,工号,手机号,角色"
    result = table(header + "\na@x.cn,甲,Jia,某校,信息学院,讲师,T1,13800138000,导师\n")
    assert result.columns == (
        "email",
        "full_name",
        "full_name_en",
        "institution",
        "department",
        "title",
        "staff_no",
        "phone",
        "role",
    )


def test_english_headers_are_trimmed_and_case_insensitive():
    result = table(" EMAIL ,Full Name,*Phone*\na@x.cn,甲,13800138000\n")
    assert result.columns == ("email", "full_name", "phone")


def test_duplicate_and_missing_headers_are_refused_and_unknown_ones_are_warnings():
    with pytest.raises(Invalid) as excinfo:
        table("邮箱,email,身份证号,,单位\na@x.cn,a@x.cn,1,,某校\n")
    messages = [(e["row"], e["field"], e["message"]) for e in errors_of(excinfo)]
    assert messages[0][:2] == (1, "header") and 'repeats column "邮箱"' in messages[0][2]
    assert messages[1][:2] == (1, "full_name") and "缺少必填列“姓名”" in messages[1][2]
    assert len(messages) == 2
    warnings = [w["message"] for w in excinfo.value.extra["warnings"]]
    assert "身份证号" in warnings[0] and "Column 4 has no header" in warnings[1]


def test_unknown_and_blank_header_cells_are_ignored_with_warnings():
    result = table("序号,邮箱,姓名,性别,,备注\n1,a@x.cn,甲,女,,无\n")
    assert result.columns == ("email", "full_name")
    assert result.rows == [tabular.RowData(2, {"email": "a@x.cn", "full_name": "甲"})]
    assert [(w["row"], w["field"]) for w in result.warnings] == [(1, "header")] * 4
    assert "序号" in result.warnings[0]["message"]


def test_the_header_row_is_found_below_title_rows():
    result = people.read_people(
        xlsx(
            [
                ["2026年广州站双师型教师培训名单"],
                ["填表日期：2026-11-30", None, "联系人：王老师"],
                ["序号", "名字", "电子邮箱", "学校", "联系方式"],
                [1, "陈晓燕", "cxy@gz.edu.cn", "广州番禺职业技术学院", 13800138000],
            ]
        )
    )
    assert result.headers == {
        "full_name": "名字",
        "email": "电子邮箱",
        "institution": "学校",
        "phone": "联系方式",
    }
    assert result.rows == [
        tabular.RowData(
            4,
            {
                "full_name": "陈晓燕",
                "email": "cxy@gz.edu.cn",
                "institution": "广州番禺职业技术学院",
                "phone": "13800138000",
            },
        )
    ]


def test_header_after_blank_lines_keeps_spreadsheet_numbering():
    result = table("\n\nemail,full_name\n\na@x.cn,甲\n,\nb@x.cn,乙\n")
    assert [r.number for r in result.rows] == [5, 7]


def test_trailing_empty_header_cells_are_ignored():
    result = people.read_people(xlsx([["email", "full_name", None, None], ["a@x.cn", "甲"]]))
    assert result.columns == ("email", "full_name")


# --- rows ------------------------------------------------------------------------------------


def test_xlsx_cells_become_trimmed_text():
    result = people.read_people(
        xlsx(
            [
                ["email", "full_name", "phone", "staff_no", "title", "department"],
                ["  a@x.cn ", " 甲 ", 13800138000, 2020001.0, 1.5, date(2020, 12, 2)],
            ]
        )
    )
    assert result.rows[0].values == {
        "email": "a@x.cn",
        "full_name": "甲",
        "phone": "13800138000",
        "staff_no": "2020001",
        "title": "1.5",
        "department": "2020-12-02T00:00:00",
    }


def test_empty_rows_are_skipped_and_short_rows_padded():
    result = people.read_people(
        xlsx([["email", "full_name", "phone"], [None, None], ["a@x.cn"], [" ", ""]])
    )
    assert result.rows == [
        tabular.RowData(3, {"email": "a@x.cn", "full_name": None, "phone": None})
    ]


def test_cells_beyond_the_header_are_refused():
    with pytest.raises(Invalid) as excinfo:
        table("email,full_name\na@x.cn,李,明\n")
    assert errors_of(excinfo)[0]["row"] == 2


def test_row_limit_is_enforced():
    text = "email,full_name\n" + "".join(f"u{i}@x.cn,甲\n" for i in range(4))
    assert len(people.read_people(text.encode(), max_rows=4).rows) == 4
    with pytest.raises(Invalid) as excinfo:
        people.read_people(text.encode(), max_rows=3)
    assert "more than 3" in errors_of(excinfo)[0]["message"]


def test_header_without_data_rows_is_refused():
    with pytest.raises(Invalid):
        table("email,full_name\n\n")


# --- validation ------------------------------------------------------------------------------


def test_valid_people_keep_only_given_fields_with_roles_resolved():
    result = table(
        "email,full_name,role,phone\nLi@X.cn,李明,讲师,\nwang@x.cn,王,,\n"
        "zhao@x.cn,赵,Admin,+86 138-0013-8000\n"
    )
    valid, errors = people.validate_people(result)
    assert errors == []
    assert [r.values for r in valid] == [
        {"email": "li@x.cn", "full_name": "李明", "role": "instructor"},
        {"email": "wang@x.cn", "full_name": "王"},
        {"email": "zhao@x.cn", "full_name": "赵", "role": "admin", "phone": "+86 138-0013-8000"},
    ]


@pytest.mark.parametrize(
    "role,expected",
    [
        ("teacher", "teacher"),
        ("学员", "teacher"),
        ("教师", "teacher"),
        ("参训教师", "teacher"),
        ("Instructor", "instructor"),
        ("导师", "instructor"),
        ("讲师", "instructor"),
        ("ADMIN", "admin"),
        ("教务", "admin"),
        ("管理员", "admin"),
    ],
)
def test_role_aliases(role, expected):
    valid, _ = people.validate_people(table(f"email,full_name,role\na@x.cn,甲,{role}\n"))
    assert valid[0].values["role"] == expected


def test_field_errors_name_row_and_field():
    result = table(
        "email,full_name,phone,role\nnot-an-email,甲,,\nb@x.cn,,call me,boss\n"
        f"c@x.cn,{'名' * 101},,\n"
    )
    valid, errors = people.validate_people(result)
    assert valid == []
    assert sorted((e["row"], e["field"]) for e in errors) == [
        (2, "email"),
        (3, "full_name"),
        (3, "phone"),
        (3, "role"),
        (4, "full_name"),
    ]
    assert all(isinstance(e["message"], str) for e in errors)


def test_duplicate_emails_are_an_error_on_the_later_rows_only():
    result = table("email,full_name\na@x.cn,甲\nb@x.cn,乙\nA@X.CN,丙\na@x.cn,丁\n")
    valid, errors = people.validate_people(result)
    assert [r.number for r in valid] == [2, 3]
    assert [(e["row"], e["field"]) for e in errors] == [(4, "email"), (5, "email")]
    assert "row 2" in errors[0]["message"]


def test_raise_if_errors_sorts_caps_and_counts(monkeypatch):
    monkeypatch.setattr(tabular, "MAX_REPORTED_ERRORS", 2)
    tabular.raise_if_errors([])
    errors = [tabular.row_error(n, "email", "bad") for n in (9, 3, 5)]
    with pytest.raises(Invalid) as excinfo:
        tabular.raise_if_errors(errors)
    assert [e["row"] for e in excinfo.value.errors] == [3, 5]
    assert excinfo.value.extra == {"error_count": 3}
    assert "3 row(s)" in excinfo.value.message_en


# --- lookups ---------------------------------------------------------------------------------


def test_chunked():
    assert list(bulk.chunked([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]


def test_fetch_by_runs_one_query_per_batch(users, count_queries):
    made = [users.create(email=f"batch{i}@x.cn") for i in range(5)]
    keys = [u.email for u in made] + ["absent@x.cn", "batch0@x.cn"]
    with count_queries() as queries:
        found = bulk.fetch_by(User.email, keys, batch_size=3)
    assert len(queries) == 2  # 6 distinct keys
    assert {email: user.id for email, user in found.items()} == {u.email: u.id for u in made}


def test_unterminated_quote_is_refused_rather_than_swallowing_rows():
    with pytest.raises(Invalid) as excinfo:
        table('email,full_name\na@x.cn,"李明\nb@x.cn,王\n')
    assert "malformed" in errors_of(excinfo)[0]["message"]


def test_duplicates_are_found_even_when_the_first_row_is_invalid_otherwise():
    result = table("email,full_name,phone\na@x.cn,甲,call me\nA@x.cn,乙,\n")
    valid, errors = people.validate_people(result)
    assert valid == []
    assert [(e["row"], e["field"]) for e in errors] == [(2, "phone"), (3, "email")]
