from plateocr.cli import console

console()
