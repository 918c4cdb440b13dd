/* opensmm pages: small enhancements over forms that work without scripts.
   - the order form: service picker by category, the fields the service's type needs,
     and the live price (asked from the server, which runs the API's own validation);
   - confirmation of destructive buttons, live filtering of the services list,
     code-language tabs on the API page. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  // --- navigation: the phone menu button, and the "More" menus --------------------------
  // The button is a real <button> (Tab reaches it; Enter and Space press it) that shows the
  // links of the top bar (visitors) or of the sidebar (signed in). Focus stays on the button,
  // the links follow it in the tab order; Escape closes the menu and puts focus back on the
  // button; leaving the menu (focus or a click elsewhere) closes it. "More" and the language
  // switch are <details>: they close on Escape and on a click elsewhere, as a menu does.
  var menuButton = $(".nav-button");
  var menuHost = menuButton ? menuButton.closest(".topbar, .sidebar") : null;
  function menuOpen() { return menuHost !== null && menuHost.classList.contains("open"); }
  function setMenu(open) {
    menuHost.classList.toggle("open", open);
    menuButton.setAttribute("aria-expanded", open ? "true" : "false");
    // The sidebar's sheet covers the page: the page does not scroll behind it.
    document.documentElement.classList.toggle("menu-open", open && menuHost.classList.contains("sidebar"));
  }
  if (menuHost) {
    menuButton.addEventListener("click", function () { setMenu(!menuOpen()); });
    menuHost.addEventListener("focusout", function (event) {
      if (menuOpen() && event.relatedTarget && !menuHost.contains(event.relatedTarget)) { setMenu(false); }
    });
  }
  function closeMenus(except) {
    $all("details.more[open]").forEach(function (more) {
      if (more !== except) { more.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (event) {
    var inside = event.target.closest ? event.target.closest("details.more") : null;
    closeMenus(inside);
    if (menuOpen() && !menuHost.contains(event.target)) { setMenu(false); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = $("details.more[open]");
    if (open) { open.removeAttribute("open"); $("summary", open).focus(); return; }
    if (menuOpen()) {
      setMenu(false);
      menuButton.focus();
    }
  });

  // --- wide tables: scrolled from the keyboard ------------------------------------------
  // A table wider than its box scrolls inside it (.table-wrap). Such a box takes focus, so
  // that a keyboard user can scroll it with the arrow keys, and is a region named after
  // its table's heading for a screen reader. Checked again when the window is resized.
  function markScrollable() {
    $all(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        var heading = wrap.previousElementSibling;
        var name = heading && /^H[1-6]$/.test(heading.tagName) ? heading.textContent.trim() : "";
        var table = $("table", wrap);
        name = name || (table && table.getAttribute("aria-label")) || document.title;
        wrap.setAttribute("aria-label", name);
      } else if (!scrolls && wrap.getAttribute("role") === "region") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }
  markScrollable();
  window.addEventListener("resize", markScrollable);

  // --- confirmations -------------------------------------------------------------------
  $all("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // --- counting matches in the visitor's language ---------------------------------------
  // The page gives each plural category of its language (Intl.PluralRules' names) with its
  // translation; the live region it belongs to says the new count to screen readers.
  function countText(region, n) {
    var forms = JSON.parse(region.getAttribute("data-plural") || "{}");
    var category = "other";
    try { category = new Intl.PluralRules(region.getAttribute("data-locale") || undefined).select(n); } catch (e) { /* "other" */ }
    var form = forms[category] || forms.other || forms.many || "{n}";
    return form.replace("{n}", String(n));
  }
  function announce(region, n) {
    if (region) { region.textContent = countText(region, n); }
  }

  // --- services list: filter as you type ------------------------------------------------
  var search = $("#service-search");
  if (search) {
    search.addEventListener("input", function () {
      var wanted = search.value.trim().toLowerCase();
      var total = 0;
      $all(".service-group").forEach(function (group) {
        var shown = 0;
        $all("tr[data-search]", group).forEach(function (row) {
          var match = !wanted || row.getAttribute("data-search").indexOf(wanted) !== -1;
          row.classList.toggle("hidden", !match);
          if (match) { shown += 1; }
        });
        group.classList.toggle("hidden", shown === 0);
        total += shown;
      });
      announce($("#service-count"), total);
    });
  }

  // --- API page: one example language at a time ----------------------------------------
  var codeTabs = $all("[data-code-tab]");
  function showCode(lang) {
    codeTabs.forEach(function (tab) { tab.classList.toggle("active", tab.getAttribute("data-code-tab") === lang); });
    $all("pre[data-code]").forEach(function (pre) { pre.classList.toggle("hidden", pre.getAttribute("data-code") !== lang); });
  }
  if (codeTabs.length) {
    codeTabs.forEach(function (tab) {
      tab.addEventListener("click", function () { showCode(tab.getAttribute("data-code-tab")); });
    });
    showCode("curl");
  }

  // --- add funds: the fee, bonus and credit of the amount typed, asked from the server ---
  $all("form.pay-form").forEach(function (payForm) {
    var amount = $("input[name=amount]", payForm);
    var coupon = $("input[name=coupon]", payForm);
    var payTimer = null;
    var payAsked = 0;
    function show(name, text) {
      var slot = $("[data-preview=" + name + "]", payForm);
      if (slot) { slot.textContent = text; }
    }
    function ask() {
      window.clearTimeout(payTimer);
      payTimer = window.setTimeout(function () {
        var wanted = amount.value.trim();
        var mine = ++payAsked;
        if (!wanted) { ["fee", "bonus", "coupon", "credit"].forEach(function (n) { show(n, "—"); }); show("error", ""); return; }
        var query = new URLSearchParams({ method: payForm.getAttribute("data-method"), amount: wanted,
                                          coupon: coupon ? coupon.value.trim() : "" });
        fetch(payForm.getAttribute("data-preview-url") + "?" + query.toString(), {
          credentials: "same-origin", headers: { "Accept": "application/json" }
        }).then(function (response) { return response.json(); }).then(function (answer) {
          if (mine !== payAsked) { return; }
          ["fee", "bonus", "coupon", "credit"].forEach(function (n) { show(n, answer.error ? "—" : answer[n]); });
          show("error", answer.error || "");
        }).catch(function () { /* shown again on the next change */ });
      }, 200);
    }
    amount.addEventListener("input", ask);
    if (coupon) { coupon.addEventListener("input", ask); }
    if (amount.value) { ask(); }
  });

  // --- the order form --------------------------------------------------------------------
  var form = $("#order-form");
  if (!form) { return; }
  var services = JSON.parse($("#services-data").textContent);
  var byId = {};
  services.forEach(function (s) { byId[String(s.id)] = s; });
  var category = $("#category");
  var service = $("#service");
  var allOptions = $all("option", service).map(function (o) { return o.cloneNode(true); });
  var dripfeed = $("#dripfeed");

  var orderSearch = $("#order-search");
  function searchText(item) {
    return (item.id + " " + item.name + " " + item.category).toLowerCase();
  }

  function fillServices() {
    var current = service.value;
    var wanted = orderSearch ? orderSearch.value.trim().toLowerCase() : "";
    service.innerHTML = "";
    if (!wanted) {
      allOptions.forEach(function (option) {
        var item = byId[option.value];
        if (item && item.category === category.value) { service.appendChild(option.cloneNode(true)); }
      });
      if (byId[current] && byId[current].category === category.value) { service.value = current; }
      return;
    }
    // Searching: every matching service, under its category, whatever category is chosen.
    var groups = {};
    var found = 0;
    allOptions.forEach(function (option) {
      var item = byId[option.value];
      if (!item || searchText(item).indexOf(wanted) === -1) { return; }
      if (!groups[item.category]) {
        groups[item.category] = document.createElement("optgroup");
        groups[item.category].label = item.category;
        service.appendChild(groups[item.category]);
      }
      groups[item.category].appendChild(option.cloneNode(true));
      found += 1;
    });
    if (byId[current] && $("option[value='" + current + "']", service)) { service.value = current; }
    if (byId[service.value]) { category.value = byId[service.value].category; }
    announce($("#order-search-count"), found);
  }

  function showService() {
    var item = byId[service.value];
    if (!item) { return; }
    $("#service-desc").textContent = item.desc;
    $("#service-rate").textContent = item.rate_shown || item.rate;
    $("#service-approx").textContent = item.rate_approx || "";
    $("#service-category").textContent = item.category;
    var icon = $(".service-platform use");
    if (icon) { icon.setAttribute("href", icon.getAttribute("href").replace(/#.*$/, "#" + item.platform)); }
    $("#service-min").textContent = item.min;
    $("#service-max").textContent = item.max;
    $("#service-type").textContent = item.type_label || item.type;
    $("#service-avg").textContent = item.avg_time || "—";
    $all(".order-field").forEach(function (label) {
      label.classList.toggle("hidden", item.fields.indexOf(label.getAttribute("data-field")) === -1);
    });
    var quantity = $("input[name=quantity]", form);
    if (quantity) { quantity.min = item.min; quantity.max = item.max; }
    $("#dripfeed-box").classList.toggle("hidden", !item.dripfeed);
    if (!item.dripfeed) { dripfeed.checked = false; }
    $("#dripfeed-fields").classList.toggle("hidden", !dripfeed.checked);
  }

  var timer = null;
  var asked = 0;
  function quote() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var data = new FormData(form);
      // Hidden fields belong to other service types: leave them out, as the server would.
      $all(".order-field.hidden [name]", form).forEach(function (input) { data.delete(input.name); });
      var mine = ++asked;
      fetch(form.getAttribute("data-quote-url"), {
        method: "POST",
        body: new URLSearchParams(data),
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) { return response.json(); }).then(function (answer) {
        if (mine !== asked) { return; }  // a newer question is on its way
        $("#quote-charge").textContent = answer.shown || "—";
        $("#quote-approx").textContent = answer.approx || "";
        $("#quote-quantity").textContent = answer.quantity_note || "";
        $("#quote-error").textContent = answer.error || answer.note || "";
      }).catch(function () { /* the price shows again on the next change */ });
    }, 200);
  }

  category.addEventListener("change", function () {
    if (orderSearch && orderSearch.value) { orderSearch.value = ""; $("#order-search-count").textContent = ""; }
    fillServices(); showService(); quote();
  });
  if (orderSearch) {
    orderSearch.addEventListener("input", function () {
      fillServices(); showService(); quote();
      if (!orderSearch.value.trim()) { $("#order-search-count").textContent = ""; }
    });
  }
  service.addEventListener("change", function () { showService(); quote(); });
  dripfeed.addEventListener("change", function () { showService(); quote(); });
  form.addEventListener("input", function (event) {
    if (event.target !== category && event.target !== service) { quote(); }
  });
  service.addEventListener("change", function () {
    if (byId[service.value]) { category.value = byId[service.value].category; }
  });
  form.addEventListener("submit", function () {
    $all(".order-field.hidden [name]", form).forEach(function (input) { input.disabled = true; });
  });
  fillServices();
  showService();
  quote();
})();
