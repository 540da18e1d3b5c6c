import STCommands
await ST.main()
