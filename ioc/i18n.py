"""UI strings in Vietnamese (default) and English."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "app_title": {"vi": "Trung tâm Điều hành thông minh tỉnh Đồng Tháp", "en": "Đồng Tháp Intelligent Operations Centre"},
    "sources": {"vi": "Nguồn dữ liệu", "en": "Data sources"},
    "source.hotline": {"vi": "Tổng đài 1022", "en": "1022 hotline"},
    "source.cameras": {"vi": "Camera an ninh", "en": "Security cameras"},
    "source.environment": {"vi": "Quan trắc môi trường", "en": "Environmental monitoring"},
    "source.procedures": {"vi": "Thủ tục hành chính", "en": "Administrative procedures"},
    "state.fresh": {"vi": "Cập nhật", "en": "Fresh"},
    "state.late": {"vi": "Chậm", "en": "Late"},
    "state.stale": {"vi": "Cũ — không cập nhật", "en": "Stale"},
    "state.failing": {"vi": "Lỗi kết nối", "en": "Failing"},
    "state.unknown": {"vi": "Chưa có dữ liệu", "en": "No data yet"},
    "last_success": {"vi": "Lần cập nhật cuối", "en": "Last success"},
    "records": {"vi": "Bản ghi lần cuối", "en": "Records last run"},
    "newest_data": {"vi": "Dữ liệu mới nhất", "en": "Newest data"},
    "quarantined": {"vi": "Bản ghi lỗi bị cách ly", "en": "Records quarantined"},
    "last_error": {"vi": "Lỗi gần nhất", "en": "Last error"},
    "store_down": {"vi": "Không kết nối được kho dữ liệu trực tiếp (Redis).", "en": "The live store (Redis) cannot be reached."},
    "no_sources": {
        "vi": "Chưa có nguồn nào được kết nối. Chạy `ioc up` để khởi động bộ thu thập dữ liệu.",
        "en": "No source has reported yet. Run `ioc up` to start the connectors.",
    },
    "kpis": {"vi": "Chỉ số chính", "en": "Key indicators"},
    "kpi.no_snapshot": {
        "vi": "Chưa có số liệu chỉ số: bộ tính chỉ số (`ioc kpi run`, do `ioc up` khởi động) chưa chạy lần nào.",
        "en": "No indicators yet: the KPI scheduler (`ioc kpi run`, started by `ioc up`) has not run yet.",
    },
    "kpi.no_data": {"vi": "Chưa có dữ liệu", "en": "No data"},
    "kpi.hotline_today": {"vi": "Phản ánh 1022 hôm nay", "en": "1022 requests today"},
    "kpi.hotline_sub": {"vi": "Đang xử lý {open} · quá hạn {overdue}", "en": "{open} open · {overdue} overdue"},
    "kpi.cameras_online": {"vi": "Camera trực tuyến", "en": "Cameras online"},
    "kpi.cameras_sub": {"vi": "{online}/{total} camera · {offline} mất kết nối",
                        "en": "{online}/{total} cameras · {offline} offline"},
    "kpi.aqi_max": {"vi": "VN_AQI cao nhất giờ này", "en": "Highest VN_AQI this hour"},
    "kpi.qd766_score": {"vi": "Điểm QĐ 766 tháng này", "en": "QĐ 766 score this month"},
    "kpi.qd766_sub": {"vi": "Giải quyết đúng hạn (2.1): {on_time}", "en": "On time (2.1): {on_time}"},
    "kpi.alerts": {"vi": "Cảnh báo đang mở", "en": "Active alerts"},
    "kpi.alerts_sub": {"vi": "Nghiêm trọng {critical} · cảnh báo {warning} · thông tin {info}",
                       "en": "Critical {critical} · warning {warning} · info {info}"},
    "language": {"vi": "English", "en": "Tiếng Việt"},
    "updated_at": {"vi": "Cập nhật lúc", "en": "Updated at"},
}


def t(key: str, lang: str = "vi") -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["vi"]
