'use strict';
// Below 1500 px the app navigation starts folded away, so a list has the
// room for its columns; the « » button opens it and the choice is kept.
(function() {
    const key = 'django.admin.navSidebarIsOpen';
    try {
        if (localStorage.getItem(key) === null && window.innerWidth < 1500) {
            localStorage.setItem(key, 'false');
        }
    } catch (error) {
        // No storage (private mode): Django's default applies.
    }
})();
