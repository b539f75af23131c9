"""The demo data: the model case of DESIGN section 1 and the people who take part in it.

Everything here is fixed and deterministic (no randomness), so that every checkout seeds the
same accounts and a demo script can rely on ``teacher07@demo.lms.cn`` being the same person.
The people are invented; the colleges and organisations are real ones, as in the model case.
"""

from __future__ import annotations

from datetime import date

# Every demo account gets this password. It is printed by the command and written in its
# help, so it is for local demos only: seed-demo refuses to run in production without --force.
DEMO_PASSWORD = "Guangzhou-Demo-2020"  # noqa: S105 - published on purpose, not a secret
DEMO_DOMAIN = "demo.lms.cn"

# --- the model case (DESIGN section 1), for the programme and course steps -----------------

PROGRAM_CODE = "IIOT-CHINA-TOUR"
PROGRAM_TITLE = "工业互联网产教融合教师研修·中国行"
ORGANIZERS = ("中国职业技术教育学会", "中国工业互联网研究院")
CO_ORGANIZERS = ("海尔数字科技（南京）有限公司",)
PROGRAM_DESCRIPTION = (
    "面向全国职业院校“双师型”教师的工业互联网产教融合研修项目，分站在全国巡回举办。"
    "理论研修涵盖工业互联网、5G、大数据与人工智能；实训依托工业互联网平台开展。"
)

FIRST_STATION_CODE = "IIOT-GZ-2020"
FIRST_STATION_TITLE = "工业互联网产教融合教师研修·中国行（广州站）"
FIRST_STATION_CITY = "广州"
FIRST_STATION_HOST = "广东轻工职业技术学院"
FIRST_STATION_OPENS_ON = date(2020, 12, 2)
FIRST_STATION_TEACHERS = 90
THEORY_TOPICS = ("工业互联网", "5G", "大数据", "人工智能")
PRACTICAL_PLATFORM = "工业互联网平台"

HAIER_DIGITAL = CO_ORGANIZERS[0]

# The station runs Wednesday to Sunday, 2 to 6 December 2020: five days of eight 学时,
# three theory days and two practical days. The end date is our choice; the design gives
# only the opening day.
FIRST_STATION_ENDS_ON = date(2020, 12, 6)
FIRST_STATION_CAPACITY = 100  # 90 teachers enrolled: ten seats left, then the waitlist
FIRST_STATION_MIN_THEORY_HOURS = 24
FIRST_STATION_MIN_PRACTICAL_HOURS = 16
CERTIFICATE_TITLE = "结业证书"
CERTIFICATE_ISSUER = ORGANIZERS[0]
# The lead instructor of the station signs; like every demo person, he is invented.
CERTIFICATE_SIGNATORY = "陈建国"

# --- staff of the first station -----------------------------------------------------------

ADMIN = {
    "email": f"admin@{DEMO_DOMAIN}",
    "full_name": "王慧敏",
    "full_name_en": "Wang Huimin",
    "role": "admin",
    "institution": FIRST_STATION_HOST,
    "department": "继续教育学院",
    "title": "助理研究员",
    "staff_no": "20110327",
    "phone": "13800100001",
}

INSTRUCTORS = (
    {
        "full_name": "陈建国",
        "full_name_en": "Chen Jianguo",
        "institution": FIRST_STATION_HOST,
        "department": "信息技术学院",
        "title": "教授",
        "staff_no": "19980412",
    },
    {
        "full_name": "黄丽华",
        "full_name_en": "Huang Lihua",
        "institution": FIRST_STATION_HOST,
        "department": "机电技术学院",
        "title": "副教授",
        "staff_no": "20050915",
    },
    {
        "full_name": "孙志鹏",
        "full_name_en": "Sun Zhipeng",
        "institution": HAIER_DIGITAL,
        "department": "工业互联网平台事业部",
        "title": "高级工程师",
        "staff_no": "HD2016083",
    },
)

# --- the teachers: vocational colleges across China ---------------------------------------

# (college, province). Three teachers come from each.
COLLEGES = (
    ("深圳职业技术大学", "广东"),
    ("广州番禺职业技术学院", "广东"),
    ("浙江机电职业技术学院", "浙江"),
    ("南京工业职业技术大学", "江苏"),
    ("天津职业大学", "天津"),
    ("重庆电子工程职业学院", "重庆"),
    ("山东商业职业技术学院", "山东"),
    ("武汉职业技术学院", "湖北"),
    ("陕西工业职业技术学院", "陕西"),
    ("四川工程职业技术学院", "四川"),
    ("湖南工业职业技术学院", "湖南"),
    ("成都航空职业技术学院", "四川"),
    ("黑龙江职业学院", "黑龙江"),
    ("北京电子科技职业学院", "北京"),
    ("上海电子信息职业技术学院", "上海"),
    ("河北工业职业技术大学", "河北"),
    ("山西职业技术学院", "山西"),
    ("辽宁机电职业技术学院", "辽宁"),
    ("长春汽车职业技术大学", "吉林"),
    ("安徽职业技术学院", "安徽"),
    ("福建信息职业技术学院", "福建"),
    ("江西应用技术职业学院", "江西"),
    ("河南工业职业技术学院", "河南"),
    ("广西机电职业技术学院", "广西"),
    ("海南职业技术学院", "海南"),
    ("贵州交通职业技术学院", "贵州"),
    ("昆明冶金高等专科学校", "云南"),
    ("兰州石化职业技术大学", "甘肃"),
    ("内蒙古机电职业技术学院", "内蒙古"),
    ("乌鲁木齐职业大学", "新疆"),
)

DEPARTMENTS = (
    "智能制造学院",
    "电子信息工程学院",
    "计算机与软件学院",
    "机电工程学院",
    "人工智能学院",
    "通信工程学院",
    "电气与自动化学院",
    "信息工程学院",
)

# 职称 in the proportions of a typical cohort (mostly lecturers), cycled over the teachers,
# with the year such a teacher would typically have been hired (the first digits of staff_no).
TITLES = (
    "讲师",
    "副教授",
    "讲师",
    "高级工程师",
    "讲师",
    "副教授",
    "助教",
    "讲师",
    "教授",
    "副教授",
)
HIRED_IN = {"助教": 2018, "讲师": 2011, "高级工程师": 2008, "副教授": 2004, "教授": 1997}

# (name, pinyin as on a passport: surname first, given name written together).
TEACHER_NAMES = (
    ("李明", "Li Ming"),
    ("王静", "Wang Jing"),
    ("张伟", "Zhang Wei"),
    ("刘洋", "Liu Yang"),
    ("陈晓燕", "Chen Xiaoyan"),
    ("杨志强", "Yang Zhiqiang"),
    ("黄丽娟", "Huang Lijuan"),
    ("赵建华", "Zhao Jianhua"),
    ("吴海燕", "Wu Haiyan"),
    ("周文博", "Zhou Wenbo"),
    ("徐磊", "Xu Lei"),
    ("孙红梅", "Sun Hongmei"),
    ("马俊杰", "Ma Junjie"),
    ("朱宏伟", "Zhu Hongwei"),
    ("胡晓东", "Hu Xiaodong"),
    ("郭雪梅", "Guo Xuemei"),
    ("何振华", "He Zhenhua"),
    ("林立新", "Lin Lixin"),
    ("罗敏", "Luo Min"),
    ("高玉兰", "Gao Yulan"),
    ("郑天宇", "Zheng Tianyu"),
    ("梁思远", "Liang Siyuan"),
    ("谢明辉", "Xie Minghui"),
    ("宋永刚", "Song Yonggang"),
    ("唐海波", "Tang Haibo"),
    ("许文静", "Xu Wenjing"),
    ("韩勇", "Han Yong"),
    ("冯佳琪", "Feng Jiaqi"),
    ("邓浩然", "Deng Haoran"),
    ("曹晓峰", "Cao Xiaofeng"),
    ("彭丽华", "Peng Lihua"),
    ("曾凡", "Zeng Fan"),
    ("肖雨欣", "Xiao Yuxin"),
    ("田军", "Tian Jun"),
    ("董志刚", "Dong Zhigang"),
    ("潘婷", "Pan Ting"),
    ("袁国强", "Yuan Guoqiang"),
    ("蔡晓丽", "Cai Xiaoli"),
    ("蒋涛", "Jiang Tao"),
    ("余春燕", "Yu Chunyan"),
    ("于海洋", "Yu Haiyang"),
    ("杜鹏", "Du Peng"),
    ("叶秀英", "Ye Xiuying"),
    ("程建军", "Cheng Jianjun"),
    ("魏娜", "Wei Na"),
    ("苏文杰", "Su Wenjie"),
    ("丁一凡", "Ding Yifan"),
    ("任晓明", "Ren Xiaoming"),
    ("卢静怡", "Lu Jingyi"),
    ("姚斌", "Yao Bin"),
    ("沈佳慧", "Shen Jiahui"),
    ("钟振宇", "Zhong Zhenyu"),
    ("姜超", "Jiang Chao"),
    ("崔美玲", "Cui Meiling"),
    ("谭志远", "Tan Zhiyuan"),
    ("陆颖", "Lu Ying"),
    ("范学军", "Fan Xuejun"),
    ("汪晓红", "Wang Xiaohong"),
    ("廖建平", "Liao Jianping"),
    ("石磊", "Shi Lei"),
    ("金海峰", "Jin Haifeng"),
    ("韦丽萍", "Wei Liping"),
    ("贾文涛", "Jia Wentao"),
    ("夏琳", "Xia Lin"),
    ("付强", "Fu Qiang"),
    ("方晓雯", "Fang Xiaowen"),
    ("邹凯", "Zou Kai"),
    ("熊志华", "Xiong Zhihua"),
    ("白雪", "Bai Xue"),
    ("孟庆伟", "Meng Qingwei"),
    ("秦晓宁", "Qin Xiaoning"),
    ("邱少华", "Qiu Shaohua"),
    ("侯建新", "Hou Jianxin"),
    ("江海涛", "Jiang Haitao"),
    ("尹红", "Yin Hong"),
    ("薛立军", "Xue Lijun"),
    ("闫晓鹏", "Yan Xiaopeng"),
    ("段丽", "Duan Li"),
    ("雷鸣", "Lei Ming"),
    ("龙春梅", "Long Chunmei"),
    ("黎志明", "Li Zhiming"),
    ("史文华", "Shi Wenhua"),
    ("陶然", "Tao Ran"),
    ("贺军", "He Jun"),
    ("毛晓琳", "Mao Xiaolin"),
    ("郝永强", "Hao Yongqiang"),
    ("顾佳", "Gu Jia"),
    ("龚德华", "Gong Dehua"),
    ("欧阳娜", "Ouyang Na"),
    ("覃小燕", "Qin Xiaoyan"),
)


def instructor_email(n: int) -> str:
    """The login of the n-th demo instructor (1-based)."""
    return f"instructor{n}@{DEMO_DOMAIN}"


def teacher_email(n: int) -> str:
    """The login of the n-th demo teacher (1-based): teacher01@... to teacher90@..."""
    return f"teacher{n:02d}@{DEMO_DOMAIN}"


def instructor_accounts() -> list[dict]:
    """The instructors (导师) as user-create payloads."""
    return [
        {**person, "email": instructor_email(n), "role": "instructor", "phone": f"1380011{n:04d}"}
        for n, person in enumerate(INSTRUCTORS, start=1)
    ]


def teacher_accounts() -> list[dict]:
    """The teachers (学员) as user-create payloads, three per college."""
    per_college = len(TEACHER_NAMES) // len(COLLEGES)
    accounts = []
    for i, (name, pinyin) in enumerate(TEACHER_NAMES):
        title = TITLES[i % len(TITLES)]
        accounts.append(
            {
                "email": teacher_email(i + 1),
                "full_name": name,
                "full_name_en": pinyin,
                "role": "teacher",
                "institution": COLLEGES[i // per_college][0],
                "department": DEPARTMENTS[i % len(DEPARTMENTS)],
                "title": title,
                "staff_no": f"{HIRED_IN[title] + i % 4}{i + 1:04d}",
                # 138 0020 xxxx: one recognisable block of demo numbers.
                "phone": f"1380020{i + 1:04d}",
            }
        )
    return accounts


def demo_accounts() -> list[dict]:
    """Every demo account, admin first, as user-create payloads."""
    return [dict(ADMIN), *instructor_accounts(), *teacher_accounts()]


# --- the programme, the course and its modules, as API payloads (loaded through the same
# schemas as the HTTP API, so the demo passes every validation rule) -----------------------

CO_ORGANIZER_NOTE = (
    f"主办单位：{'、'.join(ORGANIZERS)}；协办单位：{'、'.join(CO_ORGANIZERS)}"
    f"（协办单位也列在主办方列表中，以便在证书与课程页面上显示）。"
)


def program_payload() -> dict:
    """The programme (项目) of the national tour."""
    return {
        "code": PROGRAM_CODE,
        "title": PROGRAM_TITLE,
        "organizers": [*ORGANIZERS, *CO_ORGANIZERS],
        "description": f"{PROGRAM_DESCRIPTION}\n\n{CO_ORGANIZER_NOTE}",
    }


def course_payload(program_id: int) -> dict:
    """The Guangzhou station (the programme's first offering)."""
    return {
        "code": FIRST_STATION_CODE,
        "title": FIRST_STATION_TITLE,
        "program_id": program_id,
        "description": (
            f"“{PROGRAM_TITLE}”首站，由{FIRST_STATION_HOST}承办，面向全国职业院校约 "
            f"{FIRST_STATION_TEACHERS} 名“双师型”教师。理论研修三天：工业互联网体系架构、"
            "5G+工业互联网应用、工业大数据与人工智能基础；实训两天，依托工业互联网平台完成"
            "设备接入与数字孪生产线建模。\n\n" + CO_ORGANIZER_NOTE
        ),
        "host_institution": FIRST_STATION_HOST,
        "organizers": [*ORGANIZERS, *CO_ORGANIZERS],
        "location": FIRST_STATION_CITY,
        "starts_on": FIRST_STATION_OPENS_ON.isoformat(),
        "ends_on": FIRST_STATION_ENDS_ON.isoformat(),
        "capacity": FIRST_STATION_CAPACITY,
        "waitlist_enabled": True,
        "self_enrollment": True,
        "min_theory_hours": FIRST_STATION_MIN_THEORY_HOURS,
        "min_practical_hours": FIRST_STATION_MIN_PRACTICAL_HOURS,
        "grade_release": "immediate",
        "certificate_title": CERTIFICATE_TITLE,
        "certificate_issuer": CERTIFICATE_ISSUER,
        "certificate_signatory": CERTIFICATE_SIGNATORY,
        "certificate_validity_months": None,  # a completion certificate does not expire
    }


ARCHITECTURE_QUIZ = {
    "pass_percent": 60,
    "max_attempts": 3,
    "questions": [
        {
            "prompt": "工业互联网功能架构中的三大体系是（单选）：",
            "choices": ["网络、平台、安全", "感知、传输、应用", "云、管、边", "设计、生产、服务"],
            "correct": [0],
            "points": 2,
        },
        {
            "prompt": "工业互联网平台通常包括哪些层级？（多选）",
            "choices": ["边缘层", "IaaS 层", "工业 PaaS 层", "工业 APP 层（SaaS）", "物理隔离层"],
            "correct": [0, 1, 2, 3],
            "points": 3,
        },
        {
            "prompt": "我国工业互联网标识解析国家顶级节点设在哪五个城市？（单选）",
            "choices": [
                "北京、深圳、杭州、成都、西安",
                "北京、上海、广州、武汉、重庆",
                "北京、天津、南京、沈阳、长沙",
                "上海、广州、青岛、合肥、郑州",
            ],
            "correct": [1],
            "points": 2,
        },
        {
            "prompt": "从防护对象看，工业互联网安全包括哪些方面？（多选）",
            "choices": ["设备安全", "控制安全", "市场安全", "数据安全", "应用安全"],
            "correct": [0, 1, 3, 4],
            "points": 3,
        },
    ],
}

THEORY_MODULES = (
    {
        "kind": "theory",
        "title": "工业互联网体系架构",
        "hours": 8,
        "content": (
            "## 学习目标\n"
            "- 理解工业互联网的内涵，以及网络、平台、安全三大功能体系\n"
            "- 了解《工业互联网体系架构（版本2.0）》的业务视图、功能架构与实施框架\n"
            "- 了解标识解析体系与国家顶级节点布局\n\n"
            "## 主要内容\n"
            "1. 工业互联网的定义与发展背景\n"
            "2. 功能架构：网络体系、平台体系、安全体系\n"
            "3. 实施框架：设备层、边缘层、企业层、产业层\n"
            "4. 标识解析体系：国家顶级节点、二级节点与企业节点\n"
            "5. 职业院校工业互联网相关专业的课程体系建设\n\n"
            "学完后请完成本模块测验（60 分及格，最多 3 次，取最好成绩）。"
        ),
        "resources": [
            {"title": "工业互联网产业联盟（AII）", "url": "https://www.aii-alliance.org/"}
        ],
        "quiz": ARCHITECTURE_QUIZ,
    },
    {
        "kind": "theory",
        "title": "5G+工业互联网应用",
        "hours": 8,
        "content": (
            "## 学习目标\n"
            "- 掌握 5G 三大应用场景（eMBB、uRLLC、mMTC）及其对工业现场的意义\n"
            "- 了解 5G 行业专网、网络切片与边缘计算（MEC）的基本原理\n\n"
            "## 主要内容\n"
            "1. 5G 技术特性与工业网络需求：带宽、时延、可靠性、连接数\n"
            "2. 5G 专网的部署模式与网络切片\n"
            "3. 典型场景：远程设备操控、机器视觉质检、AGV 协同、设备状态监测\n"
            "4. 案例研讨：5G 全连接工厂建设与职业院校实训基地改造"
        ),
        "resources": [],
    },
    {
        "kind": "theory",
        "title": "工业大数据与人工智能基础",
        "hours": 8,
        "content": (
            "## 学习目标\n"
            "- 理解工业数据的来源、特点与治理流程\n"
            "- 掌握机器学习在工业场景中的基本应用方法\n\n"
            "## 主要内容\n"
            "1. 工业数据采集：传感器、PLC、MES/ERP 与时序数据库\n"
            "2. 数据治理：清洗、标注、质量评估与数据安全\n"
            "3. 机器学习基础：回归、分类、聚类与模型评估\n"
            "4. 典型应用：设备预测性维护、视觉缺陷检测、工艺参数优化\n"
            "5. 教学转化：把企业真实数据集做成课堂案例"
        ),
        "resources": [],
    },
)

PRACTICAL_MODULES = (
    {
        "kind": "practical",
        "title": "工业互联网平台设备接入实训",
        "hours": 8,
        "brief": (
            "在工业互联网平台上完成实训台 PLC 与温度、振动传感器的接入：配置边缘网关的 "
            "Modbus TCP 或 OPC UA 采集，建立设备模型与点位表，通过 MQTT 将数据上报平台，"
            "搭建设备监控看板并设置告警规则。\n\n"
            "提交：实训报告（PDF，含配置截图、数据上报记录与问题排查过程）；"
            "配置文件可打包为 ZIP 一并提交。"
        ),
        # No due date or cut-off: the station's dates lie in the past, and a demo teacher
        # must still be able to submit.
        "max_attempts": 2,
        "reopen": "until_pass",
        "allowed_extensions": [".pdf", ".zip", ".png", ".jpg"],
        "max_file_mb": 50,
        "pass_points": 60,
        "rubric": [
            {
                "title": "设备建模与网关配置",
                "description": "设备模型与点位表完整；采集协议、地址与采集周期配置正确。",
                "max_points": 30,
            },
            {
                "title": "数据上云与数据质量",
                "description": "通过 MQTT 稳定上报；点位映射与单位正确，无明显丢包或异常值。",
                "max_points": 30,
            },
            {
                "title": "可视化监控与告警",
                "description": "看板反映设备运行状态；至少两条有效告警规则并完成触发验证。",
                "max_points": 20,
            },
            {
                "title": "实训报告与教学转化",
                "description": "报告步骤完整、问题排查清楚，并提出转化为课堂实训项目的方案。",
                "max_points": 20,
            },
        ],
    },
    {
        "kind": "practical",
        "title": "数字孪生产线建模实训",
        "hours": 8,
        "brief": (
            "以一条小型智能装配产线为对象，完成设备、工位与物流路径的三维建模和运动逻辑，"
            "将孪生体与平台上的设备数据（实时数据或历史数据回放）绑定，并基于仿真结果"
            "分析产线节拍与瓶颈，提出优化方案。\n\n"
            "提交：模型工程文件（ZIP）、不超过 3 分钟的演示视频（MP4）与说明文档（PDF）。"
        ),
        "max_attempts": 2,
        "reopen": "manual",
        "allowed_extensions": [".pdf", ".zip", ".mp4"],
        "max_file_mb": 50,
        "pass_points": 60,
        "rubric": [
            {
                "title": "产线三维建模",
                "description": "设备、工位与物流路径完整，尺寸与布局合理，运动逻辑正确。",
                "max_points": 25,
            },
            {
                "title": "数据驱动与实时同步",
                "description": "孪生体绑定设备数据，状态随数据同步变化，延迟可接受。",
                "max_points": 30,
            },
            {
                "title": "仿真分析与优化方案",
                "description": "完成节拍与瓶颈分析，优化方案有仿真数据支撑。",
                "max_points": 30,
            },
            {
                "title": "成果展示与教学设计",
                "description": "演示视频与说明清晰，并附一页可用于课堂的教学设计。",
                "max_points": 15,
            },
        ],
    },
)


def module_payloads() -> list[dict]:
    """The station's modules in display order: three theory, then two practical ones."""
    return [dict(m) for m in (*THEORY_MODULES, *PRACTICAL_MODULES)]


# --- learner activity (seed_learning_activity) ------------------------------------------------

DEMO_ACTIVE_LEARNERS = 60  # teachers 01..60 have studied the theory modules
DEMO_SUBMITTERS = 40  # teachers 01..40 have submitted the first practical
DEMO_GRADED = 25  # of those, 01..25 are graded (every fifth returned for revision)
DEMO_COMPLETERS = 12  # of those, the ones who passed also passed the second practical
DEMO_SUBMISSION_TEXT = (
    "已完成 PLC 与边缘网关的接线和协议配置，设备数据通过 MQTT 上报至平台，"
    "附实训报告（含拓扑图、配置截图与数据看板）。"
)
DEMO_FEEDBACK_PASSED = (
    "**完成良好。** 设备接入与数据上报均达到要求。\n\n- 建议在报告中补充异常断线重连的测试记录。"
)
DEMO_FEEDBACK_RETURNED = (
    "**请修改后重新提交。**\n\n- 数据上报频率未按任务书要求设置为 1 秒；\n- 报告缺少网络拓扑图。"
)


def demo_report_pdf(author: str) -> bytes:
    """A small, valid one-page PDF standing in for a teacher's practical report."""
    text = f"Practical report: device access to the industrial internet platform - {author}"
    text = text.encode("latin-1", "replace").decode("latin-1").replace("(", "[").replace(")", "]")
    stream = f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
