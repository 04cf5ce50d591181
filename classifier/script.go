package classifier

import (
	"strings"
	"unicode"

	"github.com/callbrief/callbrief/call"
)

// s2t pairs common simplified characters with their traditional forms
// (simplified first). Only characters whose forms differ are listed; a
// text made only of shared characters is ScriptAmbiguous. The list covers
// the characters that carry most of everyday and hotline text, which is
// enough to tell the script of a sentence.
const s2t = "们們这這个個为為说說时時会會对對后後来來国國过過还還发發没沒问問间間么麼经經样樣现現学學种種机機动動关關长長开開进進见見话話电電东東头頭实實点點从從两兩当當产產体體气氣无無边邊应應总總书書几幾给給难難让讓请請认認识識语語记記该該谁誰号號网網线線钱錢费費买買卖賣单單货貨订訂务務维維修修态態账賬户戶码碼钟鐘连連换換换換坏壞屏屏烧燒烟煙爆爆亲親听聽声聲讲講骗騙盗盜泄洩露露录錄锁鎖设設备備软軟件件图圖键鍵帮幫忙忙员員与與专專业業东東丢丟乐樂习習乡鄉书書买買亏虧云雲亚亞仅僅价價众眾优優传傳伤傷伦倫伟偉侧側侣侶俭儉债債倾傾储儲兴興兰蘭养養内內冲衝决決况況净淨减減凤鳳刘劉则則刚剛创創删刪别別剧劇办辦务務动動劝勸势勢区區医醫华華协協单單卫衛历歷压壓县縣参參双雙变變叶葉号號叹嘆吓嚇员員听聽启啟响響团團园園围圍图圖国國块塊坚堅报報场場处處备備复復够夠头頭夹夾奋奮奖獎妇婦妈媽学學宁寧宝寶实實宠寵审審宪憲宽寬对對导導寿壽将將层層岁歲岛島币幣师師带帶帮幫库庫应應废廢开開异異弃棄张張弹彈归歸录錄忆憶态態总總恋戀恶惡悦悅惊驚惯慣愿願战戰户戶扑撲执執扩擴扫掃扬揚扰擾抢搶护護报報担擔拟擬择擇挂掛挤擠挥揮损損换換据據数數断斷无無旧舊时時显顯晒曬晓曉术術机機杀殺杂雜权權条條来來极極构構枪槍柜櫃标標样樣树樹桥橋检檢梦夢气氣汇匯汉漢汤湯沟溝没沒沪滬泪淚泽澤洁潔洒灑浅淺测測济濟浓濃润潤涨漲渐漸温溫湾灣湿濕满滿灭滅灯燈灵靈炉爐点點炼煉热熱焕煥爱愛牵牽犹猶狱獄独獨猎獵玛瑪环環现現琐瑣电電画畫畅暢疗療盖蓋盘盤监監码碼确確礼禮离離种種称稱积積稳穩穷窮窃竊竞競笔筆简簡类類粮糧紧緊纠糾红紅约約级級纪紀线線练練组組细細终終经經绑綁结結绕繞给給络絡统統继繼续續维維综綜绿綠缓緩编編缘緣网網罗羅职職联聯肃肅胜勝脑腦脏髒舰艦艺藝节節苏蘇荣榮药藥获獲营營萝蘿虑慮虽雖蛮蠻补補装裝见見观觀规規视視览覽觉覺计計订訂认認讨討让讓训訓议議讯訊记記讲講许許论論设設访訪证證评評识識诉訴词詞译譯试試诗詩诚誠话話询詢该該详詳语語误誤说說请請诸諸读讀课課谁誰调調谈談谢謝贝貝负負财財责責败敗货貨质質购購贵貴费費贴貼贸貿资資赛賽赵趙赶趕车車轨軌转轉轮輪软軟轻輕载載较較辑輯输輸边邊达達过過运運还還这這进進远遠违違连連选選递遞逻邏遗遺邮郵邻鄰郑鄭钟鐘钢鋼钥鑰铁鐵银銀锁鎖错錯键鍵长長门門闭閉问問闲閒间間闹鬧队隊阳陽阴陰际際陆陸险險随隨隐隱难難雾霧须須顶頂项項顺順顾顧预預领領频頻题題额額风風飞飛饭飯馆館驱驅验驗鱼魚鸟鳥鸡雞麦麥黄黃齐齊龙龍"

var (
	toTrad = map[rune]rune{}
	toSimp = map[rune]rune{}
)

func init() {
	rs := []rune(s2t)
	for i := 0; i+1 < len(rs); i += 2 {
		s, t := rs[i], rs[i+1]
		if s == t {
			continue
		}
		toTrad[s] = t
		toSimp[t] = s
	}
}

// DetectScript tells simplified from traditional Chinese by counting
// characters that exist in only one of the two forms.
func DetectScript(text string) call.Script {
	var simp, trad, han int
	for _, r := range text {
		if !unicode.Is(unicode.Han, r) {
			continue
		}
		han++
		if _, ok := toTrad[r]; ok {
			simp++
		}
		if _, ok := toSimp[r]; ok {
			trad++
		}
	}
	switch {
	case han == 0:
		return call.ScriptNone
	case simp > trad:
		return call.ScriptSimplified
	case trad > simp:
		return call.ScriptTraditional
	}
	return call.ScriptAmbiguous
}

// FoldSimplified maps the traditional characters it knows to simplified,
// so the variety model judges wording, not script: Hong Kong Cantonese is
// written in traditional characters and mainland Mandarin in simplified,
// and a model left to see that would learn the script instead of the
// dialect.
func FoldSimplified(text string) string {
	return strings.Map(func(r rune) rune {
		if s, ok := toSimp[r]; ok {
			return s
		}
		return r
	}, text)
}
