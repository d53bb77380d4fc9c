import IMCLI

IMCommandLine.main()
