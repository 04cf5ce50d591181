package slots

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callbrief/callbrief/call"
)

// MaxInputBytes bounds the text scanned; longer input is cut (on a
// character boundary) since a caller's turn is never that long.
const MaxInputBytes = 4096

// context words said before a number that tell what it is.
var (
	orderCue  = []string{"订单", "訂單", "单号", "單號", "order", "工单", "工單", "维修单", "維修單", "ticket"}
	phoneCue  = []string{"电话", "電話", "手机号", "手機號", "号码", "號碼", "phone", "number", "call me", "联系", "聯絡"}
	serialCue = []string{"序列号", "序列號", "sn", "serial", "s/n"}
	imeiCue   = []string{"imei", "串号", "串號"}
)

// Parse extracts slots from one utterance. now anchors relative dates
// (今天, 上周三, "last Monday") in the caller's time zone.
func Parse(text string, now time.Time) []call.Slot {
	if len(text) > MaxInputBytes {
		cut := MaxInputBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	text = strings.ToValidUTF8(text, " ")
	var out []call.Slot
	out = append(out, numbers(text)...)
	out = append(out, serials(text)...)
	out = append(out, Models(text)...)
	out = append(out, Dates(text, now)...)
	return out
}

func cueBefore(text string, at int, cues []string) bool {
	from := max(0, at-40)
	for from > 0 && !utf8.RuneStart(text[from]) {
		from++
	}
	before := strings.ToLower(text[from:at])
	for _, c := range cues {
		if strings.Contains(before, c) {
			return true
		}
	}
	return false
}

func numbers(text string) []call.Slot {
	var out []call.Slot
	for _, r := range findDigitRuns(text) {
		d := r.digits
		s := call.Slot{Value: d, Text: strings.TrimSpace(text[r.start:r.end])}
		switch {
		case len(d) == 15 && !cueBefore(text, r.start, orderCue) || cueBefore(text, r.start, imeiCue) && len(d) == 15:
			s.Kind, s.Valid, s.Note = call.SlotIMEI, Luhn(d), "luhn"
			if !s.Valid {
				s.Note = "luhn check failed"
			}
		case cueBefore(text, r.start, orderCue) && len(d) >= 4:
			s.Kind, s.Valid = call.SlotOrderNumber, true
		case len(d) == 11 && d[0] == '1':
			// Mainland mobile numbers are 1[3-9]xxxxxxxxx.
			s.Kind, s.Note = call.SlotPhone, "mobile"
			s.Valid = d[1] >= '3' && d[1] <= '9'
		case len(d) >= 10 && len(d) <= 12 && d[0] == '0':
			// Area code (3-4 digits with the leading 0) and a 7-8 digit number.
			s.Kind, s.Valid, s.Note = call.SlotPhone, true, "landline"
		case (len(d) == 7 || len(d) == 8) && cueBefore(text, r.start, phoneCue):
			s.Kind, s.Valid, s.Note = call.SlotPhone, true, "landline without area code"
		case len(d) == 8 && cueBefore(text, r.start, []string{"香港", "hong kong", "hk"}):
			s.Kind, s.Valid, s.Note = call.SlotPhone, true, "hong kong"
		case len(d) >= 8 && cueBefore(text, r.start, serialCue):
			s.Kind, s.Valid = call.SlotSerialNumber, true
		default:
			continue
		}
		out = append(out, s)
	}
	return out
}

var serialRe = regexp.MustCompile(`(?i)\b([a-z0-9]{8,20})\b`)

// serials finds alphanumeric serial numbers after a cue ("序列号", "SN").
func serials(text string) []call.Slot {
	var out []call.Slot
	for _, m := range serialRe.FindAllStringSubmatchIndex(text, -1) {
		v := text[m[2]:m[3]]
		hasL, hasD := false, false
		for _, c := range v {
			if c >= '0' && c <= '9' {
				hasD = true
			} else {
				hasL = true
			}
		}
		if hasL && hasD && cueBefore(text, m[2], serialCue) {
			out = append(out, call.Slot{Kind: call.SlotSerialNumber, Value: strings.ToUpper(v), Text: v, Valid: true})
		}
	}
	return out
}
