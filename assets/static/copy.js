// Copy buttons: <button data-copy="element-id"> copies that element's text.
// A file rather than inline handlers, which the hub's CSP refuses.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (el && navigator.clipboard) {
    navigator.clipboard.writeText(el.textContent).then(function () { b.textContent = "Copied"; });
  }
});
