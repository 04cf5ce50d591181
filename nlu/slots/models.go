package slots

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/callbrief/callbrief/call"
)

var modelRe = regexp.MustCompile(`(?i)(小米|xiaomi|红米|紅米|redmi|poco|iphone|苹果|蘋果|华为|華為|huawei|荣耀|榮耀|honor|mate|nova)\s*(note|mate|nova|pura|magic|k|x|f|m|p)?\s*([0-9]{1,3}|[一二三四五六七八九十两]{1,3})([st]?)\s*(pro\s*max|pro\+|pro|max|ultra|plus|lite|mini|至尊版|青春版)?`)

var brandNames = map[string]string{
	"小米": "Xiaomi", "xiaomi": "Xiaomi", "红米": "Redmi", "紅米": "Redmi", "redmi": "Redmi", "poco": "POCO",
	"iphone": "iPhone", "苹果": "iPhone", "蘋果": "iPhone", "华为": "Huawei", "華為": "Huawei", "huawei": "Huawei",
	"荣耀": "Honor", "榮耀": "Honor", "honor": "Honor", "mate": "Huawei Mate", "nova": "Huawei nova",
}

var seriesNames = map[string]string{"note": "Note", "mate": "Mate", "nova": "nova", "pura": "Pura", "magic": "Magic",
	"k": "K", "x": "X", "f": "F", "m": "M", "p": "P"}

var suffixNames = map[string]string{"pro": "Pro", "pro+": "Pro+", "max": "Max", "ultra": "Ultra", "plus": "Plus", "lite": "Lite",
	"mini": "mini", "至尊版": "Ultra", "青春版": "Lite", "promax": "Pro Max"}

// Models finds device models said with a number ("小米十四", "redmi note
// 13 pro", "iPhone 15 Pro Max", "华为mate60"), normalised to the brand's
// spelling. A brand without a number (小米手机) is not a model.
func Models(text string) []call.Slot {
	var out []call.Slot
	for _, m := range modelRe.FindAllStringSubmatch(text, -1) {
		brand := brandNames[strings.ToLower(m[1])]
		num, ok := chineseNumber(m[3])
		if brand == "" || !ok || num == 0 || num > 200 {
			continue
		}
		parts := []string{brand}
		if s := strings.ToLower(m[2]); s != "" {
			if !(brand == "Huawei Mate" && s == "mate") {
				parts = append(parts, seriesNames[s])
			}
		}
		parts = append(parts, strconv.Itoa(num)+strings.ToLower(m[4]))
		if s := strings.ToLower(strings.ReplaceAll(m[5], " ", "")); s != "" {
			parts = append(parts, suffixNames[s])
		}
		out = append(out, call.Slot{Kind: call.SlotDeviceModel, Value: strings.Join(parts, " "), Text: strings.TrimSpace(m[0]), Valid: true})
	}
	return out
}
