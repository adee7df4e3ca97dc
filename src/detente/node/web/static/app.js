// Detente node UI: the only script. "Verify receipt" links load their verdict in place
// (the link works without JavaScript too: it opens the verdict as a page).
document.addEventListener("click", async (event) => {
  const link = event.target.closest("a.verify");
  if (!link) return;
  const slot = document.getElementById(link.dataset.target);
  if (!slot) return;
  event.preventDefault();
  slot.textContent = "Checking the receipt…";
  try {
    const answer = await fetch(link.href, { headers: { "X-Fragment": "1" }, credentials: "same-origin" });
    slot.innerHTML = await answer.text();
  } catch (err) {
    slot.textContent = "Could not reach the node: " + err;
  }
});
