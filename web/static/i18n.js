// The desk's one catalogue: every word the desk shows, in simplified
// Chinese (the hotline's agents' language, the default) and English. The
// caller's own words are never translated: they are shown as spoken.
"use strict";
const I18N = {
  zh: {
    "app": "来电简报 · 坐席台", "sign_in": "登录", "agent_id": "坐席工号", "token": "口令",
    "live": "实时", "reconnecting": "正在重连…", "level": "等级 {n}", "lang_switch": "English",
    "mine": "我的来电", "waiting": "排队中", "others": "其他技能组（不可接）", "callbacks": "回拨列表（已挂断）",
    "empty": "暂无", "others_more": "另有 {n} 通", "wallboard": "监控大屏",
    "accept": "接听", "decline": "拒接", "join": "接入语音", "hangup": "挂断", "close_case": "结案",
    "called_back": "已回拨，结案", "ready": "我已就绪", "outcome": "处理结果", "resolved": "已解决",
    "resolution_ph": "怎么解决的，或下一步是什么", "draft": "起草知识库文章（待审核）",
    "caller_keyed": "来电者按键", "shortcuts": "快捷键：A 接听 · D 拒接 · H 挂断 · O 结果",
    "not_ready": "未就绪", "not_ready.rang_out": "您未接听振铃中的来电，来电已转给下一位坐席。准备好后请点“我已就绪”。",
    "rings_out": "{s} 秒后转给下一位坐席", "waited": "已等待 {t}",
    "state.waiting": "排队中", "state.offered": "振铃中", "state.accepted": "通话中", "state.talking": "通话中",
    "state.holding": "保持中", "state.abandoned": "已挂断", "state.ended": "已结束", "state.closed": "已结束",
    "state.pending delivery": "待投递",
    "why.group": "不在您的技能组", "why.level": "需要更高等级", "why.language": "语言不符", "why.line": "需专线坐席",
    "why.declined": "您已拒接",
    "who": "来电者", "needs": "诉求", "urgency": "紧急程度", "checked": "已核验", "kb": "推荐文章", "ticket": "工单",
    "transcript": "原话", "summary": "摘要", "route": "路由", "unknown_caller": "身份未核实",
    "number": "号码", "account_exists": "有账户（未证明身份，不显示详情）",
    "assurance.0": "未核验（仅号码不能证明身份）", "assurance.1": "单因素核验", "assurance.2": "双因素核验",
    "urgency.normal": "一般", "urgency.elevated": "较急", "urgency.high": "紧急", "urgency.emergency": "危急",
    "emotion.neutral": "平静", "emotion.frustrated": "不耐烦", "emotion.angry": "愤怒", "emotion.distressed": "惊慌",
    "ver.verified": "已核验", "ver.unverified": "未核验", "ver.failed": "核验失败", "ver.locked": "已锁定",
    "method.ani_match": "来电号码匹配", "method.phone_last_digits": "手机号后几位", "method.imei_last_digits": "IMEI 后几位",
    "method.order_number": "订单号", "method.otp": "短信验证码", "passed": "通过", "failed": "未通过",
    "rel.high": "很相关", "rel.medium": "可能相关", "rel.low": "参考", "matched": "匹配句",
    "helpful": "有用", "not_helpful": "没用", "to_ask": "待询问",
    "lang.cmn": "普通话", "lang.yue": "粤语", "lang.wuu": "吴语", "lang.en": "英语",
    "field.device_model": "机型", "field.imei": "IMEI", "field.fault": "故障", "field.purchased": "购买日期",
    "field.order_number": "订单号", "field.serial": "序列号", "field.date": "日期", "field.account_id": "账户",
    "field.product": "产品",
    "ticket.repair": "维修", "ticket.data_recovery": "数据恢复", "ticket.complaint": "投诉", "ticket.ecosystem": "生态设备",
    "ticket.network": "网络", "ticket.order_enquiry": "订单查询", "ticket.repair_follow_up": "维修跟进",
    "ticket.safety_incident": "安全事件", "ticket.security_incident": "账号安全", "ticket.smart_home_setup": "智能家居设置",
    "ticket.unlock": "解锁", "ticket.warranty_claim": "保修",
    "group.phone_tech": "手机技术", "group.smart_home": "智能家居", "group.ecosystem": "生态设备", "group.general": "综合",
    "group.account": "账户", "group.security": "安全", "group.after_sales": "售后", "group.orders": "订单",
    "group.complaints": "投诉", "group.night_experts": "夜间专家", "group.all": "全部",
    "abandoned_why": "来电者已挂断，请回拨", "device": "设备", "order": "订单", "service": "服务记录",
    "wb.title": "监控大屏", "wb.waiting": "排队", "wb.longest": "最长等待", "wb.sl": "20 秒接通率", "wb.abandoned": "放弃",
    "wb.answered": "已接通", "wb.rang_out": "未接转出", "wb.callbacks": "待回拨", "wb.agents": "坐席",
    "wb.group": "技能组", "wb.hour": "近 1 小时", "wb.none": "—",
    "kb.status.none": "本节点没有知识库，无推荐文章", "kb.status.timeout": "知识库未能及时响应，本次无推荐文章", "kb.status.failed": "知识库出错，本次无推荐文章",
    "wb.aht": "平均处理时长", "wb.t_hour_ago": "60 分钟前", "wb.t_now": "现在", "wb.timeline": "近 1 小时每 5 分钟：20 秒内接通（深）、超时接通（浅）、放弃（线下）",
    "agent.offline": "离线", "agent.ready": "空闲", "agent.not_ready": "未就绪", "agent.offered": "振铃", "agent.talking": "通话中", "agent.reason.rang_out": "来电未接转出",
    "call_ended": "通话已结束", "caller_hung_up": "来电者已挂断", "connecting": "连接中…", "not_joined": "未接入",
    "caller.holding": "来电者保持中", "bridged_elsewhere": "已在其他窗口接入",
    "err.sign_in": "登录失败", "err.sign_in_required": "请重新登录",
    "reason.emergency": "紧急情况：核验前转人工", "reason.no_policy": "此诉求无核验策略", "reason.no_account": "未找到对应账户",
    "reason.number_locked": "来电号码因多次核验失败被锁定", "reason.account_locked": "账户因多次核验失败被锁定",
    "reason.no_answer": "未回答核验问题", "reason.wrong": "核验问题回答错误", "reason.low_assurance": "核验等级不足（仅号码不能证明身份）",
    "reason.unavailable": "核验服务不可用，请按未核验处理", "reason.too_few": "账户资料不足，无法核验",
    "reason.sensitive": "敏感诉求需要知识问答和短信验证码", "reason.caller_locked": "多次报错身份信息，已锁定",
  },
  en: {
    "app": "callbrief desk", "sign_in": "Sign in", "agent_id": "Agent", "token": "Token",
    "live": "live", "reconnecting": "reconnecting…", "level": "level {n}", "lang_switch": "中文",
    "mine": "My calls", "waiting": "Waiting", "others": "Other groups (cannot take)", "callbacks": "Call-back list (caller hung up)",
    "empty": "none", "others_more": "{n} more", "wallboard": "Wallboard",
    "accept": "Accept", "decline": "Decline", "join": "Join audio", "hangup": "Hang up", "close_case": "Close case",
    "called_back": "Called back: close", "ready": "I'm ready", "outcome": "Outcome", "resolved": "Resolved",
    "resolution_ph": "What fixed it, or what happens next", "draft": "Draft a KB article for review",
    "caller_keyed": "caller keyed", "shortcuts": "Keys: A accept · D decline · H hang up · O outcome",
    "not_ready": "Not ready", "not_ready.rang_out": "A call rang out on your desk and went to the next agent. Press \"I'm ready\" when you are.",
    "rings_out": "goes to the next agent in {s} s", "waited": "waiting {t}",
    "state.waiting": "waiting", "state.offered": "ringing", "state.accepted": "talking", "state.talking": "talking",
    "state.holding": "on hold", "state.abandoned": "abandoned", "state.ended": "ended", "state.closed": "ended",
    "state.pending delivery": "pending delivery",
    "why.group": "not your group", "why.level": "needs a higher level", "why.language": "language", "why.line": "special line",
    "why.declined": "you declined it",
    "who": "Caller", "needs": "Needs", "urgency": "Urgency", "checked": "Checked", "kb": "Suggested articles", "ticket": "Ticket",
    "transcript": "What they said", "summary": "Summary", "route": "Route", "unknown_caller": "identity not verified",
    "number": "number", "account_exists": "an account exists (not proven: no details)",
    "assurance.0": "not verified (a number alone proves nothing)", "assurance.1": "one factor", "assurance.2": "two factors",
    "urgency.normal": "normal", "urgency.elevated": "elevated", "urgency.high": "high", "urgency.emergency": "emergency",
    "emotion.neutral": "calm", "emotion.frustrated": "frustrated", "emotion.angry": "angry", "emotion.distressed": "distressed",
    "ver.verified": "verified", "ver.unverified": "not verified", "ver.failed": "verification failed", "ver.locked": "locked",
    "method.ani_match": "caller number match", "method.phone_last_digits": "phone last digits", "method.imei_last_digits": "IMEI last digits",
    "method.order_number": "order number", "method.otp": "one-time code", "passed": "passed", "failed": "failed",
    "rel.high": "strong match", "rel.medium": "likely", "rel.low": "possible", "matched": "matched",
    "helpful": "Helpful", "not_helpful": "Not helpful", "to_ask": "to ask",
    "lang.cmn": "Mandarin", "lang.yue": "Cantonese", "lang.wuu": "Wu", "lang.en": "English",
    "field.device_model": "Device", "field.imei": "IMEI", "field.fault": "Fault", "field.purchased": "Purchased",
    "field.order_number": "Order number", "field.serial": "Serial", "field.date": "Date", "field.account_id": "Account",
    "field.product": "Product",
    "ticket.repair": "Repair", "ticket.data_recovery": "Data recovery", "ticket.complaint": "Complaint", "ticket.ecosystem": "Ecosystem",
    "ticket.network": "Network", "ticket.order_enquiry": "Order enquiry", "ticket.repair_follow_up": "Repair follow-up",
    "ticket.safety_incident": "Safety incident", "ticket.security_incident": "Account security", "ticket.smart_home_setup": "Smart home setup",
    "ticket.unlock": "Unlock", "ticket.warranty_claim": "Warranty",
    "group.phone_tech": "Phone tech", "group.smart_home": "Smart home", "group.ecosystem": "Ecosystem", "group.general": "General",
    "group.account": "Account", "group.security": "Security", "group.after_sales": "After-sales", "group.orders": "Orders",
    "group.complaints": "Complaints", "group.night_experts": "Night experts", "group.all": "All",
    "abandoned_why": "The caller hung up: call them back", "device": "Device", "order": "Order", "service": "Service",
    "wb.title": "Wallboard", "wb.waiting": "Waiting", "wb.longest": "Longest wait", "wb.sl": "Answered in 20 s", "wb.abandoned": "Abandoned",
    "wb.answered": "Answered", "wb.rang_out": "Rang out", "wb.callbacks": "To call back", "wb.agents": "Agents",
    "wb.group": "Group", "wb.hour": "last hour", "wb.none": "—",
    "kb.status.none": "No knowledge base on this node: no suggestions", "kb.status.timeout": "The knowledge base did not answer in time: no suggestions", "kb.status.failed": "The knowledge base failed: no suggestions",
    "wb.aht": "Avg handle time", "wb.t_hour_ago": "60 min ago", "wb.t_now": "now", "wb.timeline": "Last hour by 5 minutes: answered within 20 s (dark), later (light), abandoned (below the line)",
    "agent.offline": "offline", "agent.ready": "ready", "agent.not_ready": "not ready", "agent.offered": "ringing", "agent.talking": "talking", "agent.reason.rang_out": "let a call ring out",
    "call_ended": "call ended", "caller_hung_up": "caller hung up", "connecting": "connecting…", "not_joined": "not joined",
    "caller.holding": "caller holding", "bridged_elsewhere": "bridged elsewhere",
    "err.sign_in": "sign-in failed", "err.sign_in_required": "sign in required",
    "reason.emergency": "emergency: handed over before verification", "reason.no_policy": "no verification policy for this intent",
    "reason.no_account": "no account found for the identifiers given",
    "reason.number_locked": "caller number locked after repeated failures", "reason.account_locked": "account locked after repeated failures",
    "reason.no_answer": "no answer to a check", "reason.wrong": "wrong answers to a check", "reason.low_assurance": "assurance below what this intent needs (a number alone proves nothing)",
    "reason.unavailable": "verification unavailable: treat as unverified", "reason.too_few": "too few identifiers on file",
    "reason.sensitive": "sensitive intent: knowledge check and one-time code needed", "reason.caller_locked": "locked after identifiers that named no account",
  },
};

// The verifier's reasons (English sentences) mapped to catalogue keys.
const REASONS = [
  [/^emergency/, "reason.emergency"], [/^no verification policy/, "reason.no_policy"], [/^no account found/, "reason.no_account"],
  [/^caller number locked/, "reason.number_locked"], [/^account locked/, "reason.account_locked"], [/^no answer to/, "reason.no_answer"],
  [/^wrong answers/, "reason.wrong"], [/^assurance below/, "reason.low_assurance"], [/^verification unavailable/, "reason.unavailable"],
  [/too few identifiers/, "reason.too_few"], [/^sensitive intent/, "reason.sensitive"], [/^caller locked/, "reason.caller_locked"],
];

let lang = (new URLSearchParams(location.search).get("lang")) || localStorage.getItem("desk-lang") || "zh";
if (!I18N[lang]) lang = "zh";

// t returns the catalogue's words for key in the desk's language; vars
// fill {name} holes. A key missing from the catalogue shows as itself, so
// that a gap is seen (and the catalogue test finds it).
function t(key, vars) {
  let s = I18N[lang][key];
  if (s === undefined) s = I18N.en[key] !== undefined ? I18N.en[key] : key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
}

function reasonText(r) {
  if (!r) return "";
  for (const [re, key] of REASONS) if (re.test(r)) return t(key);
  return r;
}

// applyI18n fills every element marked data-i18n (text) or data-i18n-ph
// (placeholder) from the catalogue.
function applyI18n() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((e) => { e.placeholder = t(e.dataset.i18nPh); });
  document.title = t("app");
}

function setLang(l) {
  lang = l; localStorage.setItem("desk-lang", l);
  applyI18n();
}
