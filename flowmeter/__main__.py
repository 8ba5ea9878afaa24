from flowmeter.cli import main

main()
