// Progressive enhancement only: every page works without this file.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var input = document.getElementById(b.getAttribute("data-copy"));
  input.select();
  var done = function () { b.textContent = "Copied"; };
  if (navigator.clipboard) { navigator.clipboard.writeText(input.value).then(done, function () {}); }
  else if (document.execCommand("copy")) { done(); }
});
document.addEventListener("change", function (e) {
  if (e.target.id === "date" && e.target.value) { document.getElementById("expiry-date").checked = true; }
});
