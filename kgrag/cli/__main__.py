from kgrag.cli import main

main()
