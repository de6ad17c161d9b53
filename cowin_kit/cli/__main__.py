from cowin_kit.cli import main

main()
