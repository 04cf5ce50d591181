package urgency

import (
	"strings"
	"testing"

	"github.com/callbrief/callbrief/call"
)

func TestAssess(t *testing.T) {
	cases := []struct {
		text    string
		emerg   bool
		level   call.UrgencyLevel
		emotion call.Emotion
		repeat  int
	}{
		{"我想查一下订单", false, call.UrgencyNormal, call.EmotionNeutral, 0},
		{"手机充电的时候冒烟了", false, call.UrgencyEmergency, call.EmotionDistressed, 0},
		{"the battery is swollen", false, call.UrgencyEmergency, call.EmotionDistressed, 0},
		{"有人冒充客服骗我", false, call.UrgencyEmergency, call.EmotionDistressed, 0},
		{"我已经是第三次打电话了", false, call.UrgencyHigh, call.EmotionFrustrated, 3},
		{"这是我第二次打来电话", false, call.UrgencyElevated, call.EmotionFrustrated, 2},
		{"第二次打电话了还没好", false, call.UrgencyElevated, call.EmotionFrustrated, 2},
		{"this is the third time I call about this", false, call.UrgencyHigh, call.EmotionFrustrated, 3},
		{"I've called you three times", false, call.UrgencyHigh, call.EmotionFrustrated, 3},
		{"打了好几次都没人管", false, call.UrgencyElevated, call.EmotionFrustrated, 2},
		{"你们什么态度我要投诉", false, call.UrgencyHigh, call.EmotionAngry, 0},
		{"烦死了一直没修好", false, call.UrgencyElevated, call.EmotionFrustrated, 0},
		{"this is unacceptable", false, call.UrgencyHigh, call.EmotionAngry, 0},
		{"有点问题", true, call.UrgencyEmergency, call.EmotionDistressed, 0},
		{"", false, call.UrgencyNormal, call.EmotionNeutral, 0},
		{strings.Repeat("啊", 1<<20), false, call.UrgencyNormal, call.EmotionNeutral, 0},
	}
	for _, c := range cases {
		u := Assess(c.text, c.emerg)
		if u.Level != c.level || u.Emotion != c.emotion || u.RepeatCall != c.repeat {
			name := c.text
			if len(name) > 40 {
				name = name[:40]
			}
			t.Errorf("%q: got level %v emotion %s repeat %d (%v), want %v %s %d", name, u.Level, u.Emotion, u.RepeatCall, u.Reasons, c.level, c.emotion, c.repeat)
		}
		if u.Level > call.UrgencyNormal && len(u.Reasons) == 0 {
			t.Errorf("%q: level %v without reasons", c.text, u.Level)
		}
	}
}
