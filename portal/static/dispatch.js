/* Dispatch screen: suggestions while typing, and map clicks that keep what was typed.
   Without this script the page works through its form and links. */
(function () {
  "use strict";
  var form = document.getElementById("dispatch-form");
  if (!form || !window.fetch) { return; }
  var text = form.elements.text, area = form.elements.area, lat = form.elements.lat, lon = form.elements.lon;
  var panel = document.getElementById("suggestion-panel"), status = document.getElementById("live-status");
  var api = form.getAttribute("action").replace(/\/dispatch$/, "/api/v1/dispatch/suggest");
  var timer = null, seq = 0;

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function params(extra) {
    var p = new URLSearchParams();
    p.set("text", text.value.trim());
    if (area.value) { p.set("area", area.value); }
    if (lat.value && lon.value) { p.set("lat", lat.value); p.set("lon", lon.value); }
    Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
    return p;
  }
  function render(data) {
    var place = data.place || {}, html = "<h2>地点</h2><p class=\"place-line\">";
    if (place.area) {
      html += "<strong>" + esc(place.area.name) + "</strong>（" + esc(place.area.level_label) + " <code>" + esc(place.area.code) + "</code>）";
      if (place.matched) { html += " <span class=\"hint\">依据文中的“" + esc(place.matched) + "”</span>"; }
    } else { html += "<span class=\"hint\">" + esc(place.message) + "</span>"; }
    html += "</p><h2>推荐的事件类型</h2>";
    var items = data.item_types || [];
    if (!items.length) { panel.innerHTML = html + "<p class=\"flash\">" + esc(data.message) + "</p>"; return; }
    html += "<ol class=\"suggestions\" id=\"suggestions\">";
    items.forEach(function (item, i) {
      var url = form.getAttribute("action") + "?" + params({choose: item.code}).toString();
      var width = Math.round(60 * item.score / items[0].score);
      html += "<li><span class=\"rank\">" + (i + 1) + "</span><span><code>" + esc(item.code) + "</code> <span class=\"name\">" +
        esc(item.name) + "</span> <span class=\"hint\">" + esc(item.major_name) + "</span>" +
        (item.component ? " <span class=\"hint\">· 部件 <code>" + esc(item.component.code) + "</code> " + esc(item.component.name) + "</span>" : "") +
        "</span><span class=\"hint\"><span class=\"score\" style=\"width:" + width + "px\"></span> " + esc(item.score) + "</span>" +
        "<a class=\"act\" href=\"" + esc(url) + "\">选择</a><p class=\"why\">理由：" +
        (item.why.length ? item.why.map(function (w) { return "<mark>" + esc(w) + "</mark>"; }).join(" · ") : "文字与该类型名称相近") +
        "</p></li>";
    });
    panel.innerHTML = html + "</ol>";
  }
  function suggest() {
    var value = text.value.trim();
    if (value.length < 4) { return; }
    var mine = ++seq;
    status.textContent = "正在推荐…";
    fetch(api + "?" + params().toString(), {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        if (mine !== seq) { return; }
        if (!res.ok) { status.textContent = (res.body.error && res.body.error.message) || "推荐失败"; return; }
        status.textContent = "已根据输入更新推荐。";
        render(res.body);
      })
      .catch(function () { if (mine === seq) { status.textContent = "网络错误，可点“推荐”按钮重试。"; } });
  }
  text.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(suggest, 350); });
  area.addEventListener("change", suggest);
  // A map click keeps what was typed since the page loaded.
  document.querySelectorAll(".case-map a").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var href = link.getAttribute("href") || link.getAttribute("xlink:href");
      var code = new URL(href, window.location.href).searchParams.get("area");
      if (!code) { return; }
      event.preventDefault();
      var option = Array.prototype.find.call(area.options, function (o) { return o.value === code; });
      if (!option) { option = new Option("已点选网格 " + code, code); area.add(option); }
      area.value = code;
      lat.value = ""; lon.value = "";
      form.submit();
    });
  });
}());
