from mmlearn.cli import main

main()
