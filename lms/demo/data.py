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
