// The print button of the shift log (no inline handlers: the Content-Security-Policy forbids them).
document.getElementById("print").addEventListener("click", () => window.print());
