from plateocr.cli import main

main()
