"""ProcessEngine Studio: the PySide6 desktop designer on top of the Qt-free engine."""
