package slots

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/callbrief/callbrief/call"
)

var (
	zhMonthDay = regexp.MustCompile(`([0-9]{1,2}|[一二三四五六七八九十两]{1,3})月(?:份)?([0-9]{1,2}|[一二三四五六七八九十两]{1,3})(?:号|日|號)`)
	zhWeekday  = regexp.MustCompile(`(上上|上|下|这|這|本)?(?:个|個)?(周|星期|礼拜|禮拜)([一二三四五六日天1-7])`)
	zhRelative = []relDay{{"今天", 0}, {"今日", 0}, {"今朝", 0}, {"明天", 1}, {"聽日", 1}, {"听日", 1}, {"明朝", 1}, {"后天", 2}, {"後天", 2}, {"昨天", -1}, {"琴日", -1}, {"尋日", -1}, {"昨日", -1}, {"前天", -2}}
	enRelative = []relDay{{"today", 0}, {"tomorrow", 1}, {"yesterday", -1}}
	enWeekday  = regexp.MustCompile(`(?i)\b(last|next|this|on)?\s*(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b`)
	enMonthDay = regexp.MustCompile(`(?i)\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\s+([0-9]{1,2})(?:st|nd|rd|th)?\b`)
	enDayMonth = regexp.MustCompile(`(?i)\b(?:the\s+)?([0-9]{1,2})(?:st|nd|rd|th)?\s+of\s+(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b`)
)

type relDay struct {
	word string
	days int
}

var zhWeekdays = map[string]time.Weekday{"一": time.Monday, "二": time.Tuesday, "三": time.Wednesday, "四": time.Thursday, "五": time.Friday, "六": time.Saturday, "日": time.Sunday, "天": time.Sunday,
	"1": time.Monday, "2": time.Tuesday, "3": time.Wednesday, "4": time.Thursday, "5": time.Friday, "6": time.Saturday, "7": time.Sunday}

var enMonths = map[string]time.Month{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}

func day(t time.Time) string { return t.Format("2006-01-02") }

// weekStart is the Monday of t's week (Chinese weeks start on Monday).
func weekStart(t time.Time) time.Time {
	off := (int(t.Weekday()) + 6) % 7
	return t.AddDate(0, 0, -off)
}

// Dates finds dates: relative days (今天, 明天, "yesterday"), weekdays
// with an optional last/next week (上周三, 下个礼拜一, "last Monday") and
// month-day dates (3月5号, 三月五号, "March 5th", "the 5th of March").
// A month-day without a year is taken in now's year, or last year if that
// would be more than a month in the future (callers talk about the past).
func Dates(text string, now time.Time) []call.Slot {
	var out []call.Slot
	lower := strings.ToLower(text)
	add := func(t time.Time, span, note string) {
		out = append(out, call.Slot{Kind: call.SlotDate, Value: day(t), Text: span, Valid: true, Note: note})
	}
	for _, r := range zhRelative {
		if strings.Contains(text, r.word) {
			add(now.AddDate(0, 0, r.days), r.word, "relative date")
		}
	}
	for _, f := range strings.FieldsFunc(lower, func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
		for _, r := range enRelative {
			if f == r.word {
				add(now.AddDate(0, 0, r.days), r.word, "relative date")
			}
		}
	}
	for _, m := range zhWeekday.FindAllStringSubmatch(text, -1) {
		wd := zhWeekdays[m[3]]
		base := weekStart(now)
		switch m[1] {
		case "上":
			base = base.AddDate(0, 0, -7)
		case "上上":
			base = base.AddDate(0, 0, -14)
		case "下":
			base = base.AddDate(0, 0, 7)
		}
		add(base.AddDate(0, 0, (int(wd)+6)%7), m[0], "weekday")
	}
	for _, m := range enWeekday.FindAllStringSubmatch(lower, -1) {
		wd := map[string]time.Weekday{"monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6, "sunday": 0}[m[2]]
		var t time.Time
		switch m[1] {
		case "last":
			// The most recent such day before today ("last Monday").
			d := (int(now.Weekday()) - int(wd) + 7) % 7
			if d == 0 {
				d = 7
			}
			t = now.AddDate(0, 0, -d)
		case "next":
			d := (int(wd) - int(now.Weekday()) + 7) % 7
			if d == 0 {
				d = 7
			}
			t = now.AddDate(0, 0, d)
		default:
			t = weekStart(now).AddDate(0, 0, (int(wd)+6)%7)
		}
		add(t, strings.TrimSpace(m[0]), "weekday")
	}
	monthDay := func(mo, d int, span string) {
		if mo < 1 || mo > 12 || d < 1 || d > 31 {
			return
		}
		t := time.Date(now.Year(), time.Month(mo), d, 0, 0, 0, 0, now.Location())
		if t.Month() != time.Month(mo) {
			return // 2月30号
		}
		if t.After(now.AddDate(0, 1, 0)) {
			t = t.AddDate(-1, 0, 0)
		}
		add(t, span, "month-day")
	}
	for _, m := range zhMonthDay.FindAllStringSubmatch(text, -1) {
		mo, ok1 := chineseNumber(m[1])
		d, ok2 := chineseNumber(m[2])
		if ok1 && ok2 {
			monthDay(mo, d, m[0])
		}
	}
	for _, m := range enMonthDay.FindAllStringSubmatch(lower, -1) {
		d, _ := strconv.Atoi(m[2])
		monthDay(int(enMonths[m[1][:3]]), d, m[0])
	}
	for _, m := range enDayMonth.FindAllStringSubmatch(lower, -1) {
		d, _ := strconv.Atoi(m[1])
		monthDay(int(enMonths[m[2][:3]]), d, m[0])
	}
	return out
}
