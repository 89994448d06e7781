from wsllm.cli import main

raise SystemExit(main())
