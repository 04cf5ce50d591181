package handoff_test

import (
	"errors"
	"testing"

	"github.com/callbrief/callbrief/handoff"
)

// TestGroundedChineseAndEnglish: numbers, amounts, dates and names in a
// summary must come from the call, whatever form either side writes them
// in (Chinese numerals, digits, English words).
func TestGroundedChineseAndEnglish(t *testing.T) {
	zh := []string{
		"喂你好我姓王我上个月十二月三号买的手机花了三千二百九十九块现在开不了机了订单号是五二零一 三一四八 八零八八 一五",
		"account A10001 王小明. device Phone 14 Pro imei 867693067951602 serial SN4107848041A purchased 2023-01-01. ",
	}
	en := []string{
		"hi this is Tom Baker I bought a watch on March 5th for two hundred and fifty dollars and it stopped syncing yesterday",
		"device_power_boot",
	}
	cases := []struct {
		name    string
		summary string
		sources []string
		ok      bool
	}{
		// Chinese: the same facts in other forms are grounded.
		{"zh amount as digits", "王先生12月3日购买的手机（3299元）无法开机。", zh, true},
		{"zh amount as numerals", "客户王小明反映十二月三日买的手机花了三千二百九十九元，现在开不了机。", zh, true},
		{"zh amount 万 form", "手机价格0.3299万元。", zh, true},
		{"zh order said in groups", "订单52013148808815。", zh, true},
		{"zh last month", "上个月买的手机开不了机。", zh, true},
		{"zh profile date", "设备2023年1月1日购买。", zh, true},
		// Chinese: invented facts are not.
		{"zh invented amount", "客户要求退款三百元。", zh, false},
		{"zh invented amount digits", "客户要求退款300块。", zh, false},
		{"zh invented date", "手机于11月3日购买。", zh, false},
		{"zh invented date numerals", "手机于十二月五日购买。", zh, false},
		{"zh invented relative day", "手机昨天开始无法开机。", zh, false},
		{"zh invented surname", "李先生的手机无法开机。", zh, false},
		{"zh invented full name", "客户张伟反映手机无法开机。", zh, false},
		{"zh invented order", "订单五二零一三一四八八八零八九九。", zh, false},
		{"zh invented ticket", "已开工单T2409999。", zh, false},
		// English.
		{"en words and digits", "Tom Baker's watch, bought March 5 for $250, stopped syncing yesterday.", en, true},
		{"en date forms", "Bought on the 5th of March.", en, true},
		{"en amount in words", "Paid two hundred fifty dollars.", en, true},
		{"en invented amount", "Refund of 300 dollars promised.", en, false},
		{"en invented amount words", "Refund of three hundred dollars promised.", en, false},
		{"en invented date", "Bought on March 6th.", en, false},
		{"en invented relative day", "It stopped syncing last week.", en, false},
		{"en invented title name", "Mr Smith's watch stopped syncing.", en, false},
		{"en invented full name", "Wang Xiaoming's watch stopped syncing.", en, false},
		{"en cued name", "The caller named Tom says the watch stopped.", en, true},
		{"no facts at all", "The watch stopped syncing.", en, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := handoff.Grounded(c.summary, c.sources...)
			if (err == nil) != c.ok {
				t.Errorf("Grounded(%q) = %v, want ok=%v", c.summary, err, c.ok)
			}
			if err != nil && !errors.Is(err, handoff.ErrUngrounded) {
				t.Errorf("error %v is not ErrUngrounded", err)
			}
		})
	}
}

// FuzzGrounded: any text (an LLM's answer is outside input) is checked
// without a panic, and a summary that repeats its source word for word is
// grounded.
func FuzzGrounded(f *testing.F) {
	for _, s := range []string{"王先生12月3日购买的手机（3299元）", "Refund of three hundred dollars on March 5th", "订单五二零一 三一四八", "0.3299万元", "1,299.50 yuan", "Mr Smith", "客户张伟"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, summary, source string) {
		_ = handoff.Grounded(summary, source)
		if err := handoff.Grounded(summary, summary); err != nil {
			t.Fatalf("a summary is not grounded in itself: %q: %v", summary, err)
		}
	})
}
