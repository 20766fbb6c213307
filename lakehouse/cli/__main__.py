from lakehouse.cli.commands import main

main()
