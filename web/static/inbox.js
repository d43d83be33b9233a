// Conveniences for the ASN inbox. The page works without this script: the text can be
// selected by hand and every share link is a plain link. Buttons that need the script
// start hidden and are revealed here only when the browser supports what they do.
(function () {
  "use strict";

  function copyFrom(selector) {
    var field = document.querySelector(selector);
    if (!field) { return Promise.reject(new Error("no field")); }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(field.value);
    }
    // Older phones: select the text and use the legacy copy command.
    field.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy"));
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      copyFrom(button.getAttribute("data-copy")).then(function () {
        button.textContent = button.getAttribute("data-copied") || label;
        setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {
        var field = document.querySelector(button.getAttribute("data-copy"));
        if (field) { field.focus(); field.select(); }
      });
    });
  });

  function imageFile(url) {
    // Share the image itself where the phone can (Instagram needs the picture).
    if (!url || !navigator.canShare) { return Promise.resolve(null); }
    return fetch(url).then(function (response) { return response.blob(); }).then(function (blob) {
      var name = url.split("/").pop() || "image";
      var file = new File([blob], name, { type: blob.type });
      return navigator.canShare({ files: [file] }) ? file : null;
    }).catch(function () { return null; });
  }

  // After a report, decline or feedback the page opens at the outcome (the redirect's
  // #outcome anchor); move focus there too, so screen readers and phones land on it.
  var target = document.querySelector("[data-focus]");
  if (target) {
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "center" });
  }

  // "Add your own words": the ASN's line goes above the approved text, and copy and share
  // use the whole. The counter counts it as the platform does, starting from the server's
  // figure for the text (X: twitter-text); for the line itself X weighs a URL 23 and a
  // character outside the Latin ranges 2 (an emoji may count a little high: never low).
  var personal = document.getElementById("personal-line");
  var shareText = document.getElementById("share-text");
  if (personal && shareText) {
    var box = personal.closest(".personal-line");
    var base = shareText.getAttribute("data-base") || shareText.value;
    var baseLength = Number(personal.dataset.length) || 0;
    var limit = Number(personal.dataset.limit) || 0;
    var weighted = personal.dataset.weighted === "1";
    var counter = document.querySelector("#personal-counter");
    var tooLong = box.querySelector(".personal-too-long");
    var format = new Intl.NumberFormat(document.documentElement.lang || "id");
    var ownPost = document.querySelector("a.own-post[href*='intent/tweet']");
    var shareButton = document.querySelector(".js-share");
    var light = function (c) {
      return c <= 4351 || (c >= 8192 && c <= 8205) || (c >= 8208 && c <= 8223) ||
        (c >= 8242 && c <= 8247);
    };
    var weigh = function (text) {
      if (!weighted) { return Array.from(text).length; }
      var total = 0;
      var rest = text.replace(/https?:\/\/\S+/g, function () { total += 23; return ""; });
      Array.from(rest).forEach(function (ch) { total += light(ch.codePointAt(0)) ? 1 : 2; });
      return total;
    };
    var update = function () {
      var words = personal.value.trim();
      var text = words ? words + "\n\n" + base : base;
      var length = baseLength + (words ? weigh(words) + 2 : 0);
      var over = limit > 0 && length > limit;
      shareText.value = text;
      counter.querySelector(".length").textContent = format.format(length);
      counter.classList.toggle("bad", over);
      tooLong.hidden = !over;
      if (ownPost) {
        var url = new URL(ownPost.href);
        url.searchParams.set("text", text);
        ownPost.href = url.toString();
        ownPost.setAttribute("aria-disabled", over ? "true" : "false");
      }
      if (shareButton) { shareButton.setAttribute("data-text", text); }
    };
    if (ownPost) {
      ownPost.addEventListener("click", function (event) {
        if (ownPost.getAttribute("aria-disabled") === "true") { event.preventDefault(); }
      });
    }
    box.hidden = false;
    personal.addEventListener("input", update);
  }

  if (navigator.share) {
    document.querySelectorAll(".js-share").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = button.getAttribute("data-text") || "";
        imageFile(button.getAttribute("data-image")).then(function (file) {
          var data = { text: text };
          if (file) { data.files = [file]; }
          return navigator.share(data);
        }).catch(function () { /* the person closed the share sheet */ });
      });
    });
  }
})();
