package lexical

import (
	"strings"
	"unicode"
)

// Callers on the Cantonese line are transcribed in traditional characters
// and colloquial Cantonese, while the articles are written in simplified
// Mandarin. Folding both onto simplified Mandarin before hashing lets a
// "部手機開唔到機" query share features with "手机无法开机". The tables are
// deliberately small: the characters and phrases of this hotline's domain,
// not a general converter.

// cantonese maps colloquial Cantonese words (already in simplified form or
// in traditional form) to Mandarin. Longer phrases first.
var cantonese = strings.NewReplacer(
	"開唔到機", "开不了机", "开唔到机", "开不了机", "著唔到機", "开不了机", "着唔到机", "开不了机", "着唔到", "开不了机", "著唔到", "开不了机",
	"充唔到電", "充不了电", "充唔到电", "充不了电", "上唔到網", "上不了网", "上唔到网", "上不了网",
	"收唔到", "收不到", "入唔到", "进不去", "開唔到", "打不开", "开唔到", "打不开", "用唔到", "用不了", "連唔到", "连不上", "连唔到", "连不上",
	"冇信號", "没信号", "冇信号", "没信号", "冇電", "没电", "冇电", "没电", "冇反應", "没反应", "冇反应", "没反应",
	"點算好", "怎么办", "点算好", "怎么办", "點算", "怎么办", "点算", "怎么办", "點樣", "怎么", "点样", "怎么", "點解", "为什么", "点解", "为什么",
	"乜嘢", "什么", "咩嘢", "什么", "幾時", "什么时候", "几时", "什么时候", "邊度", "哪里", "边度", "哪里", "邊個", "谁", "边个", "谁",
	"壞咗", "坏了", "坏咗", "坏了", "黑咗", "黑屏了", "唔見咗", "丢了", "唔见咗", "丢了", "冇咗", "没了", "漏咗", "漏了",
	"關係", "关系", "关係", "关系", "联係", "联系", "聯係", "联系",
	"唔該", "请", "唔该", "请", "唔係", "不是", "唔系", "不是", "唔", "不", "冇", "没有", "咗", "了", "嘅", "的", "係", "是", "喺", "在",
	"佢", "他", "咩", "什么", "嘢", "东西", "俾", "给", "畀", "给", "攞", "拿", "睇", "看", "諗", "想", "谂", "想", "搵", "找", "揾", "找",
	"返", "回", "嚟", "来", "閂", "关", "啲", "些", "咁", "这么", "仲", "还", "乜", "什么", "部機", "手机", "部机", "手机", "呢部", "这部",
)

// tradPairs lists traditional characters followed by their simplified form.
const tradPairs = "機机開开電电話话號号備备換换維维護护續续壞坏螢荧顯显碼码帳账賬账戶户鎖锁憑凭證证資资數数據据復复刪删圖图聯联絡络" +
	"訊讯網网際际國国遊游訂订單单貨货運运達达錢钱費费價价買买賣卖質质問问題题進进點点樣样為为麼么無无線线藍蓝連连閘闸關关燈灯" +
	"調调節节溫温濕湿頭头錶表環环體体動动監监測测池池脹胀燒烧煙烟險险報报騙骗盜盗詐诈擔担憂忧專专員员轉转訴诉態态務务經经長长" +
	"時时間间還还沒没說说聽听見见聲声響响麥麦攝摄鏡镜觸触閃闪綠绿條条紋纹熱热發发燙烫頓顿當当啟启標标誌志圈圈廠厂設设級级統统" +
	"軟软應应載载裝装錄录驗验郵邮記记舊旧購购門门區区內内臺台灣湾東东廣广輩辈簡简親亲屬属餘余額额儲储雲云綁绑個个請请給给讓让" +
	"幫帮們们這这邊边裡里裏里會会過过後后從从對对將将總总頁页車车鍵键壓压鐘钟幾几傳传輸输檔档導导錯错誤误斷断穩稳強强學学試试" +
	"準准擇择選选項项寬宽帶带陸陆實实認认預预約约憶忆損损傷伤責责爭争議议範范圍围規规則则產产寶宝殼壳適适團团隊队確确樂乐" +
	"歸归輕轻鬆松錢钱紀纪錄录嗎吗啞哑鈴铃聽听靈灵隱隐私私碼码離离線线號号態态廳厅臥卧戲戏視视頻频廁厕櫃柜氣气掃扫鎮镇撥拨" +
	"驅驱殺杀滅灭閱阅讀读譯译顧顾處处變变還还賠赔償偿儀仪鬧闹鐵铁寫写筆笔紙纸獲获極极興兴麗丽優优惠惠僅仅於于與与著着異异" +
	"餵喂膚肤臉脸險险斷断壞坏燒烧濾滤淨净齊齐義义兩两盤盘鳴鸣諮咨詢询雜杂戰战歲岁媽妈爺爷奶奶孫孙兒儿醫医療疗護护藥药"

var trad2simp = func() map[rune]rune {
	m := map[rune]rune{}
	rs := []rune(tradPairs)
	for i := 0; i+1 < len(rs); i += 2 {
		if rs[i] != rs[i+1] {
			m[rs[i]] = rs[i+1]
		}
	}
	return m
}()

// Normalize folds width and case, traditional to simplified characters and
// colloquial Cantonese to Mandarin.
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		if t, ok := trad2simp[r]; ok {
			r = t
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return cantonese.Replace(b.String())
}
