from expert.cli.main import main

main()
