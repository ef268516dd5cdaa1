from learned_advection.cli import main

main()
