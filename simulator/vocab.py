"""Vietnamese words the generated data is made of (names, places, categories, texts)."""

from __future__ import annotations

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Trương", "Bùi", "Đặng", "Đỗ", "Ngô",
          "Hồ", "Dương", "Đinh", "Lâm", "Châu", "Mai", "Tạ", "Lý"]
FAMILY_W = [31, 11, 9, 7, 6, 5, 4, 3, 3, 2, 2, 2, 2, 2, 1, 2, 2, 1, 1, 2]
MIDDLE_M = ["Văn", "Minh", "Hoàng", "Thanh", "Hữu", "Quốc", "Công", "Đức", "Tấn", "Phước"]
MIDDLE_F = ["Thị", "Ngọc", "Thanh", "Kim", "Thu", "Mỹ", "Bích", "Hồng", "Phương", "Thúy"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khang", "Long", "Lộc", "Nam", "Nghĩa", "Phúc",
           "Quân", "Sang", "Tài", "Tâm", "Thành", "Thắng", "Trí", "Tuấn", "Vinh", "Hiếu", "Khoa", "Toàn"]
GIVEN_F = ["Anh", "Châu", "Diễm", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Loan", "Mai", "Nga", "Nhung",
           "Oanh", "Phượng", "Thảo", "Trang", "Tuyết", "Vy", "Xuân", "Yến", "Hằng", "Ngân", "Trinh", "My"]
PHONE_PREFIX = ["090", "093", "089", "070", "076", "077", "078", "079", "091", "094", "088", "081", "082",
                "083", "084", "085", "096", "097", "098", "086", "032", "033", "034", "035", "036", "037",
                "038", "039", "056", "058", "059", "099"]

AP_NAMES = ["Ấp 1", "Ấp 2", "Ấp 3", "Ấp 4", "Ấp 5", "Ấp 6", "Ấp Mỹ Tân", "Ấp Bình Hòa", "Ấp Long Thạnh",
            "Ấp Tân Thuận", "Ấp An Lợi", "Ấp Phú Hưng", "Ấp Hòa Khánh", "Ấp Thạnh Lợi", "Ấp Mỹ Phú",
            "Ấp Tân Hòa", "Ấp Bình Thạnh", "Ấp Long Hòa", "Ấp Phú An", "Ấp Hưng Lợi", "Ấp Đông Hòa",
            "Ấp Tây", "Ấp Trung", "Ấp Bắc", "Ấp Nam", "Ấp Kênh Xáng", "Ấp Cả Gừa", "Ấp Rạch Chanh"]
KHOM_NAMES = ["Khóm 1", "Khóm 2", "Khóm 3", "Khóm 4", "Khóm 5", "Khu phố 1", "Khu phố 2", "Khu phố 3",
              "Khu phố 4", "Khu phố 5", "Khu phố 6"]
STREETS = ["đường Nguyễn Huệ", "đường Lý Thường Kiệt", "đường Hùng Vương", "đường 30/4", "đường Trần Hưng Đạo",
           "đường Nguyễn Trãi", "đường Lê Lợi", "đường Ấp Bắc", "đường Nguyễn Sinh Sắc", "đường Đốc Binh Kiều",
           "đường Võ Văn Kiệt", "đường Tôn Đức Thắng", "đường Nguyễn Thị Minh Khai", "đường Phạm Hữu Lầu",
           "Quốc lộ 30", "Quốc lộ 1", "Quốc lộ 50", "Quốc lộ 80", "Quốc lộ 54", "Đường tỉnh 846",
           "Đường tỉnh 848", "Đường tỉnh 864", "Đường tỉnh 870", "đường Hồ Chí Minh"]
LANDMARKS = ["chợ", "trường tiểu học", "trạm y tế", "UBND xã", "cầu", "bến đò", "nhà văn hóa ấp",
             "trường THCS", "cây xăng", "ngã ba", "ngã tư", "khu dân cư", "cụm tuyến dân cư vượt lũ"]

# --------------------------------------------------------------------------- hotline 1022

# code, name, group, weight (share of tickets), description templates
HOTLINE_SERVICES = [
    ("TTHC", "Thủ tục hành chính", "Hành chính công", 0.27, [
        "Hồ sơ {tthc} nộp tại Trung tâm Phục vụ hành chính công {xa} đã quá hẹn nhưng chưa có kết quả.",
        "Đề nghị hướng dẫn thủ tục {tthc}, tôi nộp trực tuyến trên Cổng dịch vụ công nhưng bị trả lại nhiều lần.",
        "Cán bộ tiếp nhận hồ sơ {tthc} yêu cầu bổ sung giấy tờ không có trong quy định.",
        "Hệ thống dịch vụ công trực tuyến báo lỗi khi thanh toán lệ phí hồ sơ {tthc}.",
        "Xin hỏi thời gian giải quyết hồ sơ {tthc} là bao lâu và nhận kết quả ở đâu.",
    ]),
    ("DATDAI", "Đất đai", "Tài nguyên - môi trường", 0.16, [
        "Hồ sơ cấp giấy chứng nhận quyền sử dụng đất tại {ap}, {xa} chậm so với giấy hẹn.",
        "Hộ dân tại {ap} lấn chiếm đất công, xây dựng trên hành lang kênh, đề nghị kiểm tra.",
        "Tranh chấp ranh giới đất giữa các hộ tại {ap}, {xa} chưa được hòa giải.",
        "Đề nghị giải thích việc tính tiền sử dụng đất khi chuyển mục đích sang đất ở.",
        "Việc bồi thường, hỗ trợ giải phóng mặt bằng dự án {duong} chưa thỏa đáng.",
    ]),
    ("BTXH", "Bảo trợ xã hội", "Văn hóa - xã hội", 0.09, [
        "Gia đình có người khuyết tật tại {ap} chưa được hưởng trợ cấp xã hội hằng tháng.",
        "Đề nghị xem xét hỗ trợ hộ nghèo, hộ cận nghèo tại {ap}, {xa}.",
        "Người cao tuổi trên 80 tuổi tại {xa} chưa nhận trợ cấp mấy tháng nay.",
        "Hỏi thủ tục hưởng chế độ người có công với cách mạng.",
    ]),
    ("ANTT", "An ninh trật tự", "An ninh - quốc phòng", 0.08, [
        "Tụ tập thanh thiếu niên gây mất trật tự vào ban đêm tại {ap}, {xa}.",
        "Phản ánh tình trạng đánh bạc, số đề tại khu vực {landmark} {ap}.",
        "Nghi có đối tượng trộm cắp xe máy tại khu vực {duong}.",
        "Tiếng ồn karaoke kéo dài sau 22 giờ tại {ap}, ảnh hưởng sinh hoạt người dân.",
        "Đề nghị kiểm tra cơ sở cầm đồ cho vay lãi nặng tại {xa}.",
    ]),
    ("BHXH", "Bảo hiểm xã hội", "Văn hóa - xã hội", 0.07, [
        "Công ty tại {xa} nợ tiền bảo hiểm xã hội của người lao động nhiều tháng.",
        "Thẻ bảo hiểm y tế của học sinh chưa được gia hạn, đề nghị hướng dẫn.",
        "Hồ sơ hưởng bảo hiểm xã hội một lần nộp đã lâu chưa được giải quyết.",
        "Đề nghị hướng dẫn cài đặt, sử dụng ứng dụng VssID.",
    ]),
    ("GIAOTHONG", "Giao thông", "Giao thông - đô thị", 0.07, [
        "Mặt đường {duong} đoạn qua {xa} hư hỏng nặng, nhiều ổ gà gây nguy hiểm.",
        "Đèn tín hiệu giao thông tại ngã tư {duong} không hoạt động.",
        "Xe tải trọng lớn lưu thông trên cầu yếu tại {ap}, {xa}.",
        "Đề nghị lắp biển báo, gờ giảm tốc gần {landmark} {ap}.",
        "Tình trạng đua xe trái phép trên {duong} vào ban đêm.",
    ]),
    ("TTDT", "Trật tự đô thị", "Giao thông - đô thị", 0.05, [
        "Lấn chiếm vỉa hè, lòng đường để buôn bán tại {duong}, {xa}.",
        "Công trình xây dựng không phép tại {ap}, {xa}.",
        "Quảng cáo rao vặt dán tràn lan trên cột điện dọc {duong}.",
    ]),
    ("MOITRUONG", "Môi trường", "Tài nguyên - môi trường", 0.05, [
        "Cơ sở chăn nuôi heo tại {ap} xả nước thải gây ô nhiễm kênh, mùi hôi.",
        "Rác thải không được thu gom nhiều ngày tại {ap}, {xa}.",
        "Lò đốt trấu gây khói bụi ảnh hưởng khu dân cư {ap}.",
        "Đốt rơm rạ gây khói mù trên {duong}.",
        "Khai thác cát trái phép trên sông tại khu vực {xa}.",
    ]),
    ("HATANG", "Sự cố hạ tầng", "Giao thông - đô thị", 0.04, [
        "Sạt lở bờ sông tại {ap}, {xa} đe dọa nhà dân.",
        "Cống thoát nước bị nghẹt gây ngập đường {duong} khi mưa.",
        "Cây xanh ngã đổ chắn đường tại {duong}.",
        "Đèn chiếu sáng công cộng {duong} hư nhiều ngày chưa sửa.",
    ]),
    ("DIENNUOC", "Điện nước", "Giao thông - đô thị", 0.04, [
        "Mất điện kéo dài tại {ap}, {xa} không được báo trước.",
        "Nước sinh hoạt tại {ap} có mùi, màu đục.",
        "Áp lực nước yếu, khu vực {ap} thường xuyên không có nước vào buổi sáng.",
        "Hóa đơn tiền điện tháng này tăng bất thường.",
    ]),
    ("YTE", "Y tế", "Văn hóa - xã hội", 0.03, [
        "Thái độ phục vụ của nhân viên trạm y tế {xa} chưa đúng mực.",
        "Cơ sở kinh doanh thực phẩm tại {ap} không bảo đảm vệ sinh an toàn thực phẩm.",
        "Phản ánh có ổ dịch sốt xuất huyết tại {ap}, đề nghị phun thuốc.",
        "Nhà thuốc tại {xa} bán thuốc kê đơn không cần đơn.",
    ]),
    ("GIAODUC", "Giáo dục", "Văn hóa - xã hội", 0.02, [
        "Trường tại {xa} thu các khoản ngoài quy định đầu năm học.",
        "Đề nghị xem xét việc dạy thêm, học thêm tại {xa}.",
        "Cơ sở vật chất phòng học trường tiểu học {ap} xuống cấp.",
    ]),
    ("KHAC", "Khác", "Khác", 0.03, [
        "Góp ý nâng cao chất lượng phục vụ của tổng đài 1022.",
        "Hỏi thông tin về chính sách hỗ trợ nông dân chuyển đổi cây trồng.",
        "Đề nghị cung cấp thông tin lịch tiếp công dân của lãnh đạo tỉnh.",
    ]),
]

HOTLINE_TTHC_EXAMPLES = ["đăng ký khai sinh", "cấp phiếu lý lịch tư pháp", "đăng ký kinh doanh hộ cá thể",
                         "chứng thực hợp đồng", "cấp giấy phép xây dựng", "đăng ký biến động đất đai",
                         "cấp đổi giấy phép lái xe", "xác nhận tình trạng hôn nhân"]

CHANNELS = [("phone", 0.46), ("zalo", 0.15), ("web", 0.11), ("app", 0.12), ("email", 0.06), ("chat", 0.10)]
CHANNEL_VI = {"phone": "điện thoại", "zalo": "Zalo", "web": "Cổng thông tin 1022", "app": "ứng dụng e-DongThap",
              "email": "thư điện tử", "chat": "trò chuyện trực tuyến"}

# Agencies change on 2025-03-01 (merged departments) for provincial level.
PROVINCE_AGENCY = {
    "TTHC": ("Trung tâm Phục vụ hành chính công tỉnh", "Trung tâm Phục vụ hành chính công tỉnh"),
    "DATDAI": ("Sở Tài nguyên và Môi trường", "Sở Nông nghiệp và Môi trường"),
    "BTXH": ("Sở Lao động - Thương binh và Xã hội", "Sở Y tế"),
    "ANTT": ("Công an tỉnh Đồng Tháp", "Công an tỉnh Đồng Tháp"),
    "BHXH": ("Bảo hiểm xã hội tỉnh Đồng Tháp", "Bảo hiểm xã hội tỉnh Đồng Tháp"),
    "GIAOTHONG": ("Sở Giao thông vận tải", "Sở Xây dựng"),
    "TTDT": ("Sở Xây dựng", "Sở Xây dựng"),
    "MOITRUONG": ("Sở Tài nguyên và Môi trường", "Sở Nông nghiệp và Môi trường"),
    "HATANG": ("Sở Xây dựng", "Sở Xây dựng"),
    "DIENNUOC": ("Công ty Điện lực Đồng Tháp", "Công ty Điện lực Đồng Tháp"),
    "YTE": ("Sở Y tế", "Sở Y tế"),
    "GIAODUC": ("Sở Giáo dục và Đào tạo", "Sở Giáo dục và Đào tạo"),
    "KHAC": ("Văn phòng UBND tỉnh", "Văn phòng UBND tỉnh"),
}

ANSWER_TEMPLATES = [
    "{agency} đã kiểm tra, xác minh và trả lời công dân; nội dung phản ánh đã được xử lý.",
    "{agency} đã phối hợp kiểm tra thực tế, yêu cầu khắc phục và thông tin kết quả cho người phản ánh.",
    "Tổng đài 1022 đã hướng dẫn, giải đáp trực tiếp cho người phản ánh.",
    "{agency} đã trả lời bằng văn bản; nội dung thuộc thẩm quyền đã được giải quyết theo quy định.",
]

# --------------------------------------------------------------------------- procedures (TTHC)

SECTORS = [
    # code, name, level ("xa", "tinh", "huyen"), weight of dossiers, objects
    ("HT", "Hộ tịch", "xa", 0.27, ["đăng ký khai sinh", "đăng ký kết hôn", "đăng ký khai tử",
                                   "xác nhận tình trạng hôn nhân", "đăng ký thay đổi, cải chính hộ tịch",
                                   "đăng ký giám hộ", "đăng ký nhận cha, mẹ, con", "cấp bản sao trích lục hộ tịch"]),
    ("CT", "Chứng thực", "xa", 0.21, ["chứng thực bản sao từ bản chính", "chứng thực chữ ký",
                                      "chứng thực hợp đồng, giao dịch liên quan đến tài sản",
                                      "chứng thực di chúc", "chứng thực văn bản thỏa thuận phân chia di sản"]),
    ("DD", "Đất đai", "tinh", 0.13, ["đăng ký biến động quyền sử dụng đất", "cấp giấy chứng nhận quyền sử dụng đất lần đầu",
                                     "cấp đổi giấy chứng nhận quyền sử dụng đất", "đăng ký thế chấp quyền sử dụng đất",
                                     "xóa đăng ký thế chấp", "tách thửa, hợp thửa đất", "chuyển mục đích sử dụng đất"]),
    ("KD", "Thành lập và hoạt động doanh nghiệp", "tinh", 0.06, [
        "đăng ký thành lập doanh nghiệp tư nhân", "đăng ký thành lập công ty trách nhiệm hữu hạn",
        "đăng ký thay đổi nội dung đăng ký doanh nghiệp", "đăng ký hộ kinh doanh", "tạm ngừng kinh doanh"]),
    ("TP", "Lý lịch tư pháp", "tinh", 0.05, ["cấp phiếu lý lịch tư pháp cho công dân Việt Nam",
                                             "cấp phiếu lý lịch tư pháp cho cơ quan, tổ chức"]),
    ("XD", "Hoạt động xây dựng", "tinh", 0.04, ["cấp giấy phép xây dựng nhà ở riêng lẻ", "cấp giấy phép sửa chữa, cải tạo",
                                                "gia hạn giấy phép xây dựng", "thẩm định thiết kế xây dựng"]),
    ("GT", "Đường bộ", "tinh", 0.05, ["cấp đổi giấy phép lái xe", "cấp giấy phép lưu hành xe quá tải",
                                      "cấp phù hiệu xe kinh doanh vận tải", "đăng ký xe máy chuyên dùng"]),
    ("LD", "Lao động - việc làm", "tinh", 0.03, ["giải quyết hưởng trợ cấp thất nghiệp", "cấp giấy phép lao động cho người nước ngoài",
                                                 "đăng ký nội quy lao động"]),
    ("BTXH", "Bảo trợ xã hội", "xa", 0.03, ["trợ cấp xã hội hằng tháng", "hỗ trợ chi phí mai táng",
                                            "xác định mức độ khuyết tật", "công nhận hộ nghèo, hộ cận nghèo"]),
    ("YT", "Y tế", "tinh", 0.02, ["cấp chứng chỉ hành nghề khám bệnh, chữa bệnh", "cấp giấy chứng nhận đủ điều kiện kinh doanh dược",
                                  "cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm"]),
    ("GD", "Giáo dục và đào tạo", "tinh", 0.02, ["cấp bản sao văn bằng, chứng chỉ", "chuyển trường đối với học sinh",
                                                  "cho phép thành lập nhóm trẻ độc lập tư thục"]),
    ("NN", "Nông nghiệp", "xa", 0.04, ["hỗ trợ khôi phục sản xuất vùng bị thiệt hại do thiên tai",
                                       "xác nhận nguồn gốc thủy sản", "cấp giấy chứng nhận kinh tế trang trại",
                                       "kiểm dịch động vật vận chuyển ra khỏi tỉnh"]),
    ("MT", "Môi trường", "tinh", 0.01, ["cấp giấy phép môi trường", "đăng ký môi trường", "cấp giấy phép khai thác nước mặt"]),
    ("CA", "Đăng ký, quản lý cư trú", "xa", 0.04, ["đăng ký thường trú", "đăng ký tạm trú", "xóa đăng ký thường trú",
                                                   "khai báo tạm vắng"]),
]
ACTIONS = ["", "Cấp lại ", "Điều chỉnh, ", "Gia hạn ", "Hủy bỏ "]

# The national portal's dossier status codes (TrangThaiHoSo).
DOSSIER_STATUS = {
    1: "Mới đăng ký", 2: "Được tiếp nhận", 3: "Không được tiếp nhận", 4: "Đang xử lý",
    5: "Yêu cầu bổ sung giấy tờ", 6: "Yêu cầu thực hiện nghĩa vụ tài chính", 7: "Công dân yêu cầu rút hồ sơ",
    8: "Dừng xử lý", 9: "Đã xử lý xong", 10: "Đã trả kết quả",
}

# --------------------------------------------------------------------------- cameras

VMS_TYPES = [("hikcentral", 0.42), ("zoneminder", 0.18), ("mediamtx", 0.22), ("dahua-dss", 0.12), ("milestone", 0.06)]
CAMERA_PLACES = ["cổng UBND", "ngã ba", "ngã tư", "chợ", "bến phà", "cầu", "trường học", "trạm y tế",
                 "nhà văn hóa", "khu dân cư", "đầu ấp", "cuối ấp", "bến xe", "cụm công nghiệp", "bờ kè"]
