// Live per-platform preview for the post form: debounced POST /console/preview.
(function () {
  "use strict";
  var form = document.getElementById("post-form");
  var section = document.querySelector(".previews");
  if (!form || !section || !window.fetch) { return; }
  var timer = null;
  var names = { x: "X", facebook: "Facebook", instagram: "Instagram" };
  var template = section.querySelector(".preview");
  var counterWord = template ? template.querySelector(".counter").lastChild.textContent : "";
  var numberFormat = new Intl.NumberFormat(document.documentElement.lang || "id");

  function payload() {
    var data = new FormData(form);
    var image = form.querySelector("#image");
    var remove = form.querySelector("[name=remove_image]");
    var body = {
      campaign_id: Number(form.dataset.campaignId),
      master_text: data.get("master_text") || "",
      link: data.get("link") || "",
      hashtags: data.get("hashtags") || "",
      platforms: data.getAll("platforms"),
      has_image: Boolean((image && image.files && image.files.length) ||
        (image && image.dataset.hasImage && !(remove && remove.checked)))
    };
    // The platforms' own texts (text_x) and alternative captions (variant_x_1..5).
    form.querySelectorAll("[name^=text_], [name^=variant_]").forEach(function (field) {
      body[field.name] = field.value;
    });
    if (form.dataset.postId && !(remove && remove.checked)) {
      body.post_id = Number(form.dataset.postId);
    }
    return body;
  }

  function panel(r) {
    var article = document.createElement("article");
    article.className = "preview card";
    article.dataset.platform = r.platform;
    article.dataset.position = String(r.position || 0);
    var h = document.createElement("h3");
    h.textContent = names[r.platform] || r.platform;
    if (r.label) {
      var label = document.createElement("span");
      label.className = "variant-label";
      label.textContent = "· " + r.label;
      h.append(" ", label);
    }
    var pre = document.createElement("pre");
    pre.className = "rendition";
    pre.textContent = r.text;
    var counter = document.createElement("p");
    counter.className = "counter" + (r.error ? " bad" : "");
    counter.textContent = numberFormat.format(r.length) + " / " + numberFormat.format(r.limit) +
      " " + counterWord.trim();
    var err = document.createElement("p");
    err.className = "field-error rendition-error";
    err.textContent = r.error || "";
    err.hidden = !r.error;
    article.append(h, pre, counter, err);
    return article;
  }

  function refresh() {
    var token = form.querySelector("[name=csrf_token]").value;
    fetch("/console/preview", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(payload())
    }).then(function (res) { return res.ok ? res.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        section.replaceChildren.apply(section, data.renditions.map(panel));
      })
      .catch(function () { /* keep the last preview; the server checks again on save */ });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
