"""``python -m tai_project`` (``tai-project``): run the project's Kedro CLI; ``init-data <folder>``
describes a user's image folder as the dataset, ``data`` makes the described data present
(``make data``); see ``tai_project.init_data``."""

import sys
from pathlib import Path

from kedro.framework.cli.utils import find_run_command
from kedro.framework.project import configure_project


def main(*args, **kwargs):
    if not args and sys.argv[1:2] in (["init-data"], ["data"]):
        from tai_project import init_data  # noqa: PLC0415 - only these commands need it

        sys.exit(init_data.main(sys.argv[2:]) if sys.argv[1] == "init-data" else init_data.data_main())
    package_name = Path(__file__).parent.name
    configure_project(package_name)
    interactive = hasattr(sys, "ps1")
    kwargs["standalone_mode"] = not interactive
    run = find_run_command(package_name)
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
